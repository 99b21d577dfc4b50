#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. build everything in Release, warnings as errors;
#   2. publish the native AOT binaries (the sidecar, and the load project's no-op floor), failing on any trim/AOT warning;
#   3. run every test, the AOT smoke tests and the brief load run included, and print one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# What the tests need from Debian's packages: a real redis-server (and redis-cli for the cluster tests), h2load
# (nghttp2-client) and a headless chromium for the load report test. The tests start their own servers on free
# loopback ports; nothing is started here.
missing=()
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server redis-tools)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]} from Debian's packages"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== build"
dotnet build Sidecars.sln -c Release -nologo -clp:ErrorsOnly

echo "== native AOT publish"
mkdir -p artifacts
# publish_aot PROJECT OUT BINARY: a native AOT publish that fails on any trim/AOT warning.
publish_aot() {
  local project=$1 out=$2 binary=$3 log
  log="artifacts/$(basename "$out")-publish.log"
  if ! dotnet publish "$project" -c Release -r linux-x64 -p:PublishAot=true -o "$out" -nologo > "$log" 2>&1; then
    cat "$log"
    echo "native AOT publish of $project failed"
    exit 1
  fi
  if grep -E "warning (IL|AOT|CS)[0-9]+" "$log"; then
    echo "native AOT publish of $project produced warnings"
    exit 1
  fi
  echo "$out/$binary: $(du -h "$out/$binary" | cut -f1)"
}
publish_aot src/Sidecars.Server artifacts/aot sidecars
# The load test's no-op floor: the same Kestrel and gRPC setup, native AOT like the sidecar, so they compare side by side.
publish_aot load/Sidecars.Floor artifacts/floor sidecars-floor

echo "== tests"
results=artifacts/test-results
rm -rf "$results"
status=0
SIDECARS_AOT_BINARY="$PWD/artifacts/aot/sidecars" SIDECARS_FLOOR_BINARY="$PWD/artifacts/floor/sidecars-floor" \
  dotnet test tests/Sidecars.Tests -c Release --no-build -nologo \
    --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" || status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
  f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
  passed=$((passed + p))
  failed=$((failed + f))
done
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "no test ran"
  status=1
fi
echo "$passed passed, $failed failed"
exit "$status"
