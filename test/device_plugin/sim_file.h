// Writes sim backend chip files for tests (atomically, as an operator's editor would not, but a
// test must not let the daemon read half a file).
#pragma once

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace flexai::device_plugin::testing {

// Four chips `GPU-t-<i>` of 16 GiB: chips 0,1 on island 0 / NUMA 0, chips 2,3 on island 1 /
// NUMA 1. Chips listed in `unhealthy` are written Unhealthy.
inline std::string FourChipSimFile(const std::vector<int>& unhealthy = {}) {
  std::string text = "vendor: nvidia\nchips:\n";
  for (int i = 0; i < 4; ++i) {
    bool sick = false;
    for (int u : unhealthy) sick = sick || u == i;
    text += "  - {uuid: GPU-t-" + std::to_string(i) +
            ", model: H100, memoryMiB: 16384, numa: " + std::to_string(i / 2) +
            ", linkGroup: " + std::to_string(i / 2) +
            ", health: " + (sick ? "Unhealthy" : "Healthy") + "}\n";
  }
  return text;
}

inline void WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp);
    out << text;
  }
  std::rename(temp.c_str(), path.c_str());
}

}  // namespace flexai::device_plugin::testing
