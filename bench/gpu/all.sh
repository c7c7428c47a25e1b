#!/usr/bin/env bash
# Every GPU check of the device plugin (issue 5: bench/gpu/probe.sh) and of isolation (issue 6:
# bench/gpu/isolation.sh) in one call, so a scarce GPU lease starts one machine once:
#   bash bench/gpu/bundle.sh build      # here, after a build: fills build-gpu/
#   run(command="bash bench/gpu/all.sh", carry=["build-gpu"], timeout_s=480)
# What comes back in $OUT (few files, as the device tool returns at most 8): all.log (everything
# printed), isolation-results.md (the table), probe.log, isolation-logs.tar.gz. Reads and
# measures only; changes no GPU setting (no MIG, clocks, compute mode or resets).
# Exit status: 0 when both passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d /tmp/flexai-gpu.XXXXXX)}
mkdir -p "$OUT"
exec > >(tee "$OUT/all.log") 2>&1
export PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin"
lib=$PWD/build-gpu/lib
echo "== $(date -u +%FT%TZ) on $(hostname): $(nvidia-smi --query-gpu=name,driver_version,mig.mode.current \
  --format=csv,noheader 2>&1 | head -1)"

echo "== issue 5: flexai-device-plugin --probe (NVML) vs nvidia-smi"
plugin=$(ls build-gpu/bin/flexai-device-plugin build*/bin/flexai-device-plugin 2>/dev/null | head -1)
LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 120 \
  bash bench/gpu/probe.sh "$plugin" > "$OUT/probe.log" 2>&1
probe=$?
cat "$OUT/probe.log"

echo "== issue 6: bench/gpu/isolation.sh"
work=$(mktemp -d /tmp/flexai-isolation-out.XXXXXX)
OUT=$work timeout 420 bash bench/gpu/isolation.sh
isolation=$?
cp "$work/isolation-results.md" "$OUT/" 2>/dev/null
tar -czf "$OUT/isolation-logs.tar.gz" -C "$work" isolation-logs 2>/dev/null

echo "== probe exit $probe, isolation exit $isolation"
[ "$probe" = 0 ] && [ "$isolation" = 0 ]
