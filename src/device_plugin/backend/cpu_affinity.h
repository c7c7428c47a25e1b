// The CPUs nearest an accelerator, in the Linux CPU-list form ("0-31,64-95") that sysfs, taskset
// and `nvidia-smi topo -m` use. Shared by the vendor backends; "" means unknown.
#pragma once

#include <string>
#include <vector>

namespace flexai::device_plugin {

// A CPU bitmask (word i, bit b = CPU i*bits(unsigned long)+b, as NVML fills it) as a CPU list.
std::string CpuListFromMask(const std::vector<unsigned long>& mask);

// The `local_cpulist` of a PCI device in sysfs ("0000:18:00.0"), "" when unreadable or not a
// CPU list.
std::string PciLocalCpuList(const std::string& sysfs_root, const std::string& bus_id);

}  // namespace flexai::device_plugin
