#!/usr/bin/env bash
# Runs bench/gpu/probe.sh (issue 5's GPU check, run for real only on a GPU machine) against the
# fake NVML and a stand-in nvidia-smi that prints what the real one prints, so the script is known
# to work before device time is spent on it: it must report ALL MATCH when both sides agree, and
# MISMATCH with exit 1 when the CPU affinity or memory differ.
#   probe_script_dry_run.sh DEVICE_PLUGIN FAKE_NVML_LIB REPO_ROOT
set -uo pipefail
plugin=$1 nvml=$2 root=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

cat >"$work/nvml.json" <<'JSON'
{"devices": [
  {"uuid": "GPU-0a1b", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984,
   "busId": "00000000:18:00.0", "cpus": [0, 1, 2, 3, 4, 5, 6, 7, 16, 17]},
  {"uuid": "GPU-2c3d", "name": "NVIDIA H100 80GB HBM3", "memoryTotal": 85520809984,
   "busId": "00000000:2A:00.0"}]}
JSON
# nvidia-smi as the driver's prints it; SMI_CPUS0 and SMI_MIB0 let a case disagree with NVML.
cat >"$work/bin/nvidia-smi" <<'SH'
#!/usr/bin/env bash
case "$*" in
  *--query-gpu=uuid,name,memory.total,pci.bus_id*)
    echo "uuid, name, memory.total [MiB], pci.bus_id"
    echo "GPU-0a1b, NVIDIA H100 80GB HBM3, ${SMI_MIB0:-81559} MiB, 00000000:18:00.0"
    echo "GPU-2c3d, NVIDIA H100 80GB HBM3, 81559 MiB, 00000000:2A:00.0" ;;
  "topo -m")
    printf '\t\033[4mGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\033[0m\n'
    printf 'GPU0\t X \tNV18\t%s\t0\t\tN/A\n' "${SMI_CPUS0:-0-7,16-17}"
    printf 'GPU1\tNV18\t X \tN/A\tN/A\t\tN/A\n'
    printf '\nLegend:\n\n  X    = Self\n' ;;
  *) echo "unexpected nvidia-smi $*" >&2; exit 9 ;;
esac
SH
chmod +x "$work/bin/nvidia-smi"

run() {
  env PATH="$work/bin:$PATH" FAKE_NVML_CONFIG="$work/nvml.json" FLEXAI_NVML_LIBRARY="$nvml" "$@" \
    bash "$root/bench/gpu/probe.sh" "$plugin" >"$work/out" 2>&1
}
fail() { echo "FAIL: $*"; cat "$work/out"; exit 1; }
expect() { grep -qF -- "$1" "$work/out" || fail "no line with: $1"; }

run || fail "exit $? where every GPU matches"
expect "ok       GPU-0a1b cpus: probe=0-7,16-17 nvidia-smi topo=0-7,16-17"
expect "ok       GPU-0a1b memoryMiB: probe=81559 nvidia-smi/sysfs=81559"
expect "GPU-2c3d cpus: probe='' (nvidia-smi topo -m shows none)"
expect "ALL MATCH"

run SMI_CPUS0=0-15 && fail "exit 0 although the CPU affinity differs"
expect "MISMATCH GPU-0a1b cpus: probe=0-7,16-17 nvidia-smi topo=0-15"
expect "SOME MISMATCH"

run SMI_MIB0=40960 && fail "exit 0 although the memory differs"
expect "MISMATCH GPU-0a1b memoryMiB"
echo "probe.sh dry run on the fake NVML: OK"
