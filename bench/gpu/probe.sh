#!/usr/bin/env bash
# Shows that `flexai-device-plugin --probe` (NVML backend) reports the same GPUs as nvidia-smi:
# UUID, model, memory (MiB), NUMA node (sysfs) and the nearest CPUs (`nvidia-smi topo -m`'s CPU
# Affinity, compared where nvidia-smi shows one). READ-ONLY: it queries NVML and sysfs and changes no
# GPU setting (no -pm, -c, -mig, clocks or resets).
#
#   bench/gpu/probe.sh [path/to/flexai-device-plugin]
#
# Environment: FLEXAI_NVML_LIBRARY (default: the driver's libnvidia-ml.so.1, found via ldconfig
# or /usr/local/nvidia/lib64). Exit status 0 when every GPU matches, 1 otherwise.
set -euo pipefail

bin=${1:-$(ls build*/bin/flexai-device-plugin 2>/dev/null | head -1)}
[[ -x "$bin" ]] || { echo "flexai-device-plugin not found; pass its path" >&2; exit 2; }
command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found: no NVIDIA driver here" >&2; exit 2; }

nvml=${FLEXAI_NVML_LIBRARY:-}
if [[ -z "$nvml" ]]; then
  for candidate in /usr/local/nvidia/lib64/libnvidia-ml.so.1 \
                   "$(ldconfig -p 2>/dev/null | awk '/libnvidia-ml.so.1/{print $NF; exit}')"; do
    [[ -n "$candidate" && -e "$candidate" ]] && { nvml=$candidate; break; }
  done
fi
nvml=${nvml:-libnvidia-ml.so.1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== flexai-device-plugin --backend nvidia --probe (NVML: $nvml)"
"$bin" --backend nvidia --nvml-library "$nvml" --probe >"$work/probe.json" 2>"$work/probe.log" || {
  cat "$work/probe.log" >&2; exit 1; }
cat "$work/probe.json"

echo "== nvidia-smi --query-gpu=uuid,name,memory.total,pci.bus_id --format=csv"
nvidia-smi --query-gpu=uuid,name,memory.total,pci.bus_id --format=csv | tee "$work/smi.csv"

# NUMA node per GPU as the kernel reports it (-1 = single-node machine).
tail -n +2 "$work/smi.csv" | while IFS=, read -r uuid name memory bus; do
  bus=$(echo "$bus" | tr -d ' ' | tr 'A-F' 'a-f' | sed -E 's/^0000([0-9a-f]{4}:)/\1/')
  node=$(cat "/sys/bus/pci/devices/$bus/numa_node" 2>/dev/null || echo -1)
  echo "$(echo "$uuid" | tr -d ' '),$node"
done >"$work/numa.csv"

echo "== nvidia-smi topo -m"
timeout 30 nvidia-smi topo -m 2>&1 | tee "$work/topo.txt" || true

echo "== comparison"
python3 - "$work/probe.json" "$work/smi.csv" "$work/numa.csv" "$work/topo.txt" <<'PY'
import csv, json, re, sys
probe = {c["uuid"]: c for c in json.load(open(sys.argv[1]))["chips"]}
rows = list(csv.reader(open(sys.argv[2])))[1:]
numa = dict(line.strip().split(",") for line in open(sys.argv[3]) if line.strip())
# `nvidia-smi topo -m`: a header naming the columns (tab-separated, maybe with terminal escapes),
# then one row per GPU ("GPU0\t X \t0-15\t0 ..."); rows are in nvidia-smi's index order.
topo_cpus = {}
lines = [re.sub(r"\x1b\[[0-9;]*m", "", l.rstrip("\n")) for l in open(sys.argv[4])]
header = next((l.split("\t") for l in lines if "CPU Affinity" in l), None)
if header:
    column = [h.strip() for h in header].index("CPU Affinity")
    for l in lines:
        cells = l.split("\t")
        if re.fullmatch(r"GPU\d+", cells[0].strip()) and len(cells) > column:
            topo_cpus[int(cells[0].strip()[3:])] = cells[column].strip()
ok = len(rows) == len(probe)
print(f"GPUs: nvidia-smi {len(rows)}, probe {len(probe)}")
for gpu_index, (uuid, name, memory, _bus) in enumerate(rows):
    uuid, name = uuid.strip(), name.strip()
    mib = int(memory.strip().split()[0])
    chip = probe.get(uuid)
    if chip is None:
        print(f"MISMATCH {uuid}: not in probe"); ok = False; continue
    smi_numa = int(numa.get(uuid, "-1"))
    checks = {"model": (chip["model"], name), "memoryMiB": (chip["memoryMiB"], mib),
              "numa": (chip["numa"], smi_numa)}
    for field, (got, want) in checks.items():
        good = got == want
        ok &= good
        print(f"{'ok      ' if good else 'MISMATCH'} {uuid} {field}: probe={got} nvidia-smi/sysfs={want}")
    smi_cpus = topo_cpus.get(gpu_index, "")
    if smi_cpus and smi_cpus != "N/A":
        good = chip.get("cpus") == smi_cpus
        ok &= good
        print(f"{'ok      ' if good else 'MISMATCH'} {uuid} cpus: probe={chip.get('cpus')} nvidia-smi topo={smi_cpus}")
    else:
        print(f"         {uuid} cpus: probe={chip.get('cpus')!r} (nvidia-smi topo -m shows none)")
    print(f"         {uuid} linkGroup={chip['linkGroup']} health={chip['health']}")
print("ALL MATCH" if ok else "SOME MISMATCH")
sys.exit(0 if ok else 1)
PY
