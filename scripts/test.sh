#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. build everything in Release, warnings as errors;
#   2. publish the native AOT binary, failing on any trim/AOT warning;
#   3. run every test, the AOT smoke tests included, and print one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# What the tests need from Debian's packages: a real redis-server (and redis-cli for the cluster tests).
# The tests start their own servers on free loopback ports; nothing is started here.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "== installing redis-server and redis-tools from Debian's packages"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi

echo "== build"
dotnet build Sidecars.sln -c Release -nologo -clp:ErrorsOnly

echo "== native AOT publish"
publish_log=artifacts/aot-publish.log
mkdir -p artifacts
if ! dotnet publish src/Sidecars.Server -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot -nologo > "$publish_log" 2>&1; then
  cat "$publish_log"
  echo "native AOT publish failed"
  exit 1
fi
if grep -E "warning (IL|AOT|CS)[0-9]+" "$publish_log"; then
  echo "native AOT publish produced warnings"
  exit 1
fi
echo "artifacts/aot/sidecars: $(du -h artifacts/aot/sidecars | cut -f1)"

echo "== tests"
results=artifacts/test-results
rm -rf "$results"
status=0
SIDECARS_AOT_BINARY="$PWD/artifacts/aot/sidecars" \
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
