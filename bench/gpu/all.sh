#!/usr/bin/env bash
# Every GPU check of the device plugin (issue 5: bench/gpu/probe.sh) and of isolation (issue 6:
# bench/gpu/isolation.sh) in one call, so a scarce GPU lease starts one machine once:
#   bash bench/gpu/bundle.sh build      # here, after a build: fills build-gpu/
#   run(command="bash bench/gpu/all.sh", carry=["build-gpu"], timeout_s=540)
# What comes back in $OUT (few files, as the device tool returns at most 8): all.log (everything
# printed), isolation-results.md (the table), probe.log, isolation-logs.tar.gz; written even when
# a check runs out of time. Reads and measures only; changes no GPU setting (no MIG, clocks,
# compute mode or resets). Exit status: 0 when both passed. About 4 minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d /tmp/flexai-gpu.XXXXXX)}
mkdir -p "$OUT"
exec > >(tee "$OUT/all.log") 2>&1
tee_pid=$!
export PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin"
bundle=$PWD/build-gpu
work=$(mktemp -d /tmp/flexai-isolation-out.XXXXXX)
probe=none isolation=none
finish() {
  # isolation.sh quits its MPS daemon itself, unless it was killed at its time limit.
  for pipe in /tmp/flexai-isolation.*/mps/pipe; do
    [ -d "$pipe" ] && echo quit | CUDA_MPS_PIPE_DIRECTORY=$pipe timeout 10 nvidia-cuda-mps-control
  done 2>/dev/null
  cp "$work/isolation-results.md" "$OUT/" 2>/dev/null
  tar -czf "$OUT/isolation-logs.tar.gz" -C "$work" isolation-logs 2>/dev/null
  echo "== probe exit $probe, isolation exit $isolation"
  exec >&- 2>&-
  wait "$tee_pid" 2>/dev/null
}
trap finish EXIT

echo "== $(date -u +%FT%TZ) on $(hostname): $(timeout 20 nvidia-smi --query-gpu=name,driver_version,mig.mode.current \
  --format=csv,noheader 2>&1 | head -1)"
if [ -d "$bundle" ]; then
  # The bundle is what this session tested: use it rather than a fresh compile.
  export FLEXAI_HOOK_LIBRARY=$bundle/lib/libflexai-cuda.so FLEXAI_ISOLATION_PROBE=$bundle/bin/gpu_isolation_probe
  export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  missing=$(ldd "$bundle/bin/flexai-device-plugin" 2>&1 | grep -E "not found|version .* not found" || true)
  [ -z "$missing" ] || echo "!! the daemon cannot load here: $missing"
fi

echo "== issue 5: flexai-device-plugin --probe (NVML) vs nvidia-smi"
plugin=$(ls "$bundle/bin/flexai-device-plugin" build*/bin/flexai-device-plugin 2>/dev/null | head -1)
timeout -k 5 60 bash bench/gpu/probe.sh "$plugin" > "$OUT/probe.log" 2>&1
probe=$?
cat "$OUT/probe.log"

echo "== issue 6: bench/gpu/isolation.sh"
OUT=$work FLEXAI_PROBE_TIMEOUT=90 timeout -k 10 400 bash bench/gpu/isolation.sh
isolation=$?
[ "$probe" = 0 ] && [ "$isolation" = 0 ]
