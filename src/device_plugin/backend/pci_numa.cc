#include "device_plugin/backend/pci_numa.h"

#include <cstdio>
#include <fstream>

namespace flexai::device_plugin {

int PciNumaNode(const std::string& sysfs_root, const std::string& bus_id) {
  if (bus_id.empty()) return -1;
  std::ifstream in(sysfs_root + "/bus/pci/devices/" + bus_id + "/numa_node");
  int node = -1;
  if (in >> node && node >= 0) return node;
  return -1;
}

std::string PciBusId(unsigned int domain, unsigned int bus, unsigned int device,
                     unsigned int function) {
  char text[32];
  std::snprintf(text, sizeof text, "%04x:%02x:%02x.%x", domain, bus & 0xffu, device & 0x1fu,
                function & 0x7u);
  return text;
}

}  // namespace flexai::device_plugin
