// The NUMA node of a PCI device as the kernel reports it (sysfs), which is the CPU-side affinity
// kubelet's topology manager works with. Shared by the vendor backends.
#pragma once

#include <string>

namespace flexai::device_plugin {

// `bus_id` in sysfs form ("0000:18:00.0"). -1 when unknown: no such file, unreadable, or the
// kernel's own -1 (a single-node machine).
int PciNumaNode(const std::string& sysfs_root, const std::string& bus_id);

// "0000:18:00.0" from its parts, as sysfs names PCI devices (a domain past 0xffff, as behind
// Intel VMD, keeps all its digits).
std::string PciBusId(unsigned int domain, unsigned int bus, unsigned int device,
                     unsigned int function);

}  // namespace flexai::device_plugin
