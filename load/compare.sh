#!/usr/bin/env bash
# The load comparison of issue 8 in one go: builds and publishes what it needs, then runs `sidecars-load compare`:
# the no-op floor and the sidecar (native AOT; and the JIT build with --jit) side by side, alternating, h2load for max
# throughput, our open-loop generator at one rate for both, memory and start-up, judged against load/budgets.yaml.
#   load/compare.sh [--quick] [--jit] [--soak]      --quick < 3 min, full < 15 min; --soak runs the 10-minute soak after
# Output: a console table, artifacts/load/report.json and a self-contained artifacts/load/report.html.
# Exit 0 when every judged budget passed, 1 when one failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

compare_args=()
soak=0
for arg in "$@"; do
  case "$arg" in
    --quick|--jit) compare_args+=("$arg") ;;
    --soak) soak=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option '$arg' (usage: load/compare.sh [--quick] [--jit] [--soak])" >&2; exit 2 ;;
  esac
done

for tool in h2load redis-server; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing (Debian: apt-get install nghttp2-client redis-server)" >&2; exit 2; }
done

mkdir -p artifacts
# publish PROJECT OUT: native AOT, refusing any trim/AOT warning (as scripts/test.sh does).
publish() {
  local log="artifacts/$(basename "$2")-publish.log"
  echo "== publishing $1 (native AOT) to $2"
  if ! dotnet publish "$1" -c Release -r linux-x64 -p:PublishAot=true -o "$2" -nologo > "$log" 2>&1 || grep -qE "warning (IL|AOT|CS)[0-9]+" "$log"; then
    cat "$log"; echo "compare.sh: native AOT publish of $1 failed or warned" >&2; exit 1
  fi
}
publish src/Sidecars.Server artifacts/aot
publish load/Sidecars.Floor artifacts/floor
echo "== building the JIT sidecar (for the start-up budget) and the load tool"
dotnet build src/Sidecars.Server -c Release -nologo -clp:ErrorsOnly
dotnet build load/Sidecars.Load -c Release -nologo -clp:ErrorsOnly

tool=(dotnet load/Sidecars.Load/bin/Release/net10.0/sidecars-load.dll)
status=0
"${tool[@]}" compare "${compare_args[@]}" --out artifacts/load \
  --sidecars artifacts/aot/sidecars --floor artifacts/floor/sidecars-floor \
  --sidecars-jit src/Sidecars.Server/bin/Release/net10.0/sidecars.dll --config artifacts/load/config || status=$?
if [ "$soak" -eq 1 ]; then
  "${tool[@]}" soak --minutes 10 --out artifacts/load --sidecars artifacts/aot/sidecars --config artifacts/load/config
fi
exit "$status"
