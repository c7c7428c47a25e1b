#!/usr/bin/env bash
# Diagnosis behind isolation.sh's checks (c) and (d) in hook mode, on a GPU, in about 90 s:
#  1. NVML's per-process samples while two unthrottled processes time-slice the GPU
#     (nvml_process_samples.py beside them): what share calibration has to read;
#  2. the 30:70 hook pair with share calibration (FLEXAI_HOOK_DEBUG=1 logs each window) and
#     without it (FLEXAI_SHARE_CALIBRATION=0), each with the samples beside it;
#  3. launch overhead: without the hook, with it, with activity boards, with boards and no
#     calibration (5 rounds each).
# Uses build-gpu/ (bash bench/gpu/bundle.sh BUILD_DIR):
#   run(command="bash bench/gpu/share_diagnosis.sh", carry=["build-gpu"], timeout_s=240)
# Writes $OUT/share-diagnosis.log (everything) and $OUT/samples-*.out. Changes no GPU setting.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d /tmp/flexai-diagnosis.XXXXXX)}
exec > >(tee "$OUT/share-diagnosis.log") 2>&1
export PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin"
export LD_LIBRARY_PATH="${FLEXAI_DIAGNOSIS_LIBS:+$FLEXAI_DIAGNOSIS_LIBS:}$PWD/build-gpu/lib:/usr/local/nvidia/lib64:/usr/local/cuda/lib64"
PROBE=$PWD/build-gpu/bin/gpu_isolation_probe HOOK=$PWD/build-gpu/lib/libflexai-cuda.so
SECONDS_PER_RUN=${FLEXAI_BENCH_SECONDS:-12}
WORK=$(mktemp -d /tmp/flexai-diagnosis-work.XXXXXX)
PTX=()
nvcc -ptx -arch=compute_90 bench/gpu/spin_kernels.cu -o "$WORK/spin.ptx" 2>/dev/null && PTX=(--ptx "$WORK/spin.ptx")
probe() { timeout 60 "$PROBE" ${PTX[@]+"${PTX[@]}"} "$@"; }
value() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" | tail -1; }
hooked() {  # hooked NAME CORES [ENV=VALUE...] -- ARGS...  (a hook-mode container, as isolation.sh)
  local name=$1 cores=$2; shift 2
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  mkdir -p "$WORK/shared-$name" "$WORK/activity/device-0"
  touch "$WORK/shared-$name/activity-device-0"
  ln -f "$WORK/shared-$name/activity-device-0" "$WORK/activity/device-0/$name"
  env FLEXAI_ISOLATION=hook FLEXAI_CORES_LIMIT="$cores" FLEXAI_SHARED_DIR="$WORK/shared-$name" \
    FLEXAI_ACTIVITY_DIR="$WORK/activity" ${extra[@]+"${extra[@]}"} LD_PRELOAD="$HOOK" \
    timeout 60 "$PROBE" ${PTX[@]+"${PTX[@]}"} "$@"
}
charged_ms() {
  od -An -t u8 -j 104 -N 16 "$WORK/shared-$1/usage.bin" 2>/dev/null |
    awk '{ if ($1 > 0) printf "%.3f", $2 / $1 / 1e6; else print "none" }'
}
pair() {  # pair LABEL CMD30... -- CMD70...   (each a command line taking the spin arguments)
  local label=$1; shift
  local a=() b=()
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift; b=("$@")
  local start=$(( $(date +%s%3N) + 4000 ))
  "${a[@]}" spin "$SECONDS_PER_RUN" "$ITERS" 8448 "$start" >"$WORK/$label-30.out" 2>&1 &
  local p30=$!
  "${b[@]}" spin "$SECONDS_PER_RUN" "$ITERS" 8448 "$start" >"$WORK/$label-70.out" 2>&1 &
  local p70=$!
  sleep 4
  python3 bench/gpu/nvml_process_samples.py "$SECONDS_PER_RUN" 1.0 >"$OUT/samples-$label.out" 2>&1 &
  local sampler=$!
  wait $p30 $p70 $sampler
  echo "== $label: pids $p30 (30) $p70 (70) as this shell sees them"
  local r30 r70
  r30=$(value rate <"$WORK/$label-30.out"); r70=$(value rate <"$WORK/$label-70.out")
  echo "rates: $r30 vs $r70 kernels/s, ratio $(awk -v a="$r30" -v b="$r70" 'BEGIN { if (b > 0) printf "%.3f", a / b }')"
  echo "--- 30:"; grep -v "^kernels=" "$WORK/$label-30.out" | tail -20
  echo "--- 70:"; grep -v "^kernels=" "$WORK/$label-70.out" | tail -20
  echo "--- NVML:"; grep -E "^summary|result [^0]" "$OUT/samples-$label.out"
  grep -E "^poll|^sample" "$OUT/samples-$label.out" | head -24
}

echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1); pid ns $(readlink /proc/self/ns/pid)"
probe calibrate 5 8448 >"$WORK/calibrate.out" 2>&1
ITERS=$(value iters <"$WORK/calibrate.out"); ITERS=${ITERS:-200000}
echo "spin: $ITERS iterations ($(value last_ms <"$WORK/calibrate.out") ms)"

plain() { probe "$@"; }
pair plain plain -- plain
h30() { hooked share30 30 FLEXAI_HOOK_DEBUG=1 -- "$@"; }
h70() { hooked share70 70 FLEXAI_HOOK_DEBUG=1 -- "$@"; }
pair hook h30 -- h70
echo "charged per kernel: 30% $(charged_ms share30) ms, 70% $(charged_ms share70) ms"
rm -rf "$WORK"/shared-share* "$WORK"/activity/device-0/share*
n30() { hooked share30 30 FLEXAI_SHARE_CALIBRATION=0 -- "$@"; }
n70() { hooked share70 70 FLEXAI_SHARE_CALIBRATION=0 -- "$@"; }
pair nocal n30 -- n70
echo "charged per kernel: 30% $(charged_ms share30) ms, 70% $(charged_ms share70) ms"

echo "== launch overhead, us per launch (200000 launches), 5 rounds"
for round in 1 2 3 4 5; do
  base=$(probe launches 200000 2>&1 | value launch_us)
  mkdir -p "$WORK/shared-d1"
  plainhook=$(env FLEXAI_ISOLATION=hook FLEXAI_CORES_LIMIT=100 FLEXAI_SHARED_DIR="$WORK/shared-d1" LD_PRELOAD="$HOOK" \
    timeout 60 "$PROBE" ${PTX[@]+"${PTX[@]}"} launches 200000 2>&1 | value launch_us)
  boards=$(hooked d2 100 -- launches 200000 2>&1 | value launch_us)
  nocal=$(hooked d3 100 FLEXAI_SHARE_CALIBRATION=0 -- launches 200000 2>&1 | value launch_us)
  echo "round $round: base $base, hook $plainhook, hook+boards $boards, hook+boards-calibration $nocal"
done
