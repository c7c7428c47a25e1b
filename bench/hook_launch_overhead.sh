#!/usr/bin/env bash
# CPU cost of libflexai-cuda.so per kernel launch, on the fake libcuda (no GPU needed): 2 M
# launches of an empty kernel by test/isolation's hook_probe, unthrottled, best of 7 runs each,
# without the library, with it, and with it and activity boards (FLEXAI_ACTIVITY_DIR) laid out
# as Allocate does. Prints milliseconds per 2 M launches and nanoseconds per launch.
#   bash bench/hook_launch_overhead.sh [BUILD_DIR]      (default: build; needs isolation_tests built)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
probe=$build/bin/hook_probe
hook=$PWD/$build/lib/libflexai-cuda.so
for f in "$probe" "$hook" "$build/test/isolation/fake_driver/libcuda.so.1"; do
  [ -e "$f" ] || { echo "missing $f: build first (cmake --build $build --target isolation_tests)" >&2; exit 2; }
done
export LD_LIBRARY_PATH=$PWD/$build/test/isolation/fake_driver
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/view/device-0"
launches=2000000
best() {  # best CMD...: the shortest of 7 runs, in ms
  local best_ms="" ms
  for _ in 1 2 3 4 5 6 7; do
    rm -rf "$work/shared"; mkdir -p "$work/shared"
    touch "$work/shared/activity-device-0"
    ln -f "$work/shared/activity-device-0" "$work/view/device-0/self"
    ms=$("$@" launch "$launches" 0 | sed -n 's/.*returned_ms=\([0-9]*\).*/\1/p')
    if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then best_ms=$ms; fi
  done
  echo "$best_ms"
}
base=$(best "$probe")
plain=$(best env FLEXAI_CORES_LIMIT=100 FLEXAI_SHARED_DIR="$work/shared" LD_PRELOAD="$hook" "$probe")
boards=$(best env FLEXAI_CORES_LIMIT=100 FLEXAI_SHARED_DIR="$work/shared" \
  FLEXAI_ACTIVITY_DIR="$work/view" LD_PRELOAD="$hook" "$probe")
per() { awk -v a="$1" -v b="$2" -v n="$launches" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }'; }
echo "without the library: $base ms per $launches launches"
echo "with the library:    $plain ms (+$(per "$plain" "$base") ns per launch)"
echo "with activity boards: $boards ms (+$(per "$boards" "$plain") ns per launch over the library)"
