#include "device_plugin/backend/cpu_affinity.h"

#include <climits>
#include <fstream>

#include "partition/chip.h"

namespace flexai::device_plugin {

std::string CpuListFromMask(const std::vector<unsigned long>& mask) {
  constexpr size_t kBits = sizeof(unsigned long) * CHAR_BIT;
  std::string list;
  auto set = [&](size_t cpu) { return (mask[cpu / kBits] >> (cpu % kBits)) & 1UL; };
  const size_t total = mask.size() * kBits;
  for (size_t cpu = 0; cpu < total;) {
    if (!set(cpu)) {
      ++cpu;
      continue;
    }
    size_t last = cpu;
    while (last + 1 < total && set(last + 1)) ++last;
    if (!list.empty()) list += ',';
    list += std::to_string(cpu);
    if (last > cpu) list += '-' + std::to_string(last);
    cpu = last + 1;
  }
  return list;
}

std::string PciLocalCpuList(const std::string& sysfs_root, const std::string& bus_id) {
  if (bus_id.empty()) return "";
  std::ifstream in(sysfs_root + "/bus/pci/devices/" + bus_id + "/local_cpulist");
  std::string list;
  if (!std::getline(in, list) || !partition::IsCpuList(list)) return "";
  return list;
}

}  // namespace flexai::device_plugin
