// Inline Kubernetes objects for the extender tests: nodes with a flexai inventory, pods asking
// for flexai resources; and a poll for what watch threads deliver.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/protocol.h"
#include "kube/time_format.h"

namespace flexai::extender::testing {

using Json = nlohmann::json;

struct ChipSpec {
  std::string uuid;
  int64_t memory_mib = 81559;
  std::string model = "H100";
  int numa = 0;
  int link_group = -1;  // NVLink island / HCCS ring
};

inline Json NodeWithChips(
    const std::string& name, const std::vector<ChipSpec>& chips,
    std::chrono::system_clock::time_point heartbeat = std::chrono::system_clock::now()) {
  kube::NodeInventory inv;
  for (size_t i = 0; i < chips.size(); ++i) {
    partition::Chip c;
    c.vendor = partition::Vendor::kNvidia;
    c.index = static_cast<int>(i);
    c.uuid = chips[i].uuid;
    c.model = chips[i].model;
    c.memory_mib = chips[i].memory_mib;
    c.numa_node = chips[i].numa;
    c.link_group = chips[i].link_group;
    inv.chips.push_back(c);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", name},
            {"annotations",
             {{std::string(kube::kInventoryAnnotation), kube::EncodeInventory(inv)},
              {std::string(kube::kHeartbeatAnnotation), kube::FormatTime(heartbeat)}}}}},
          {"status", {{"allocatable", {{"cpu", "64"}, {"memory", "512Gi"}}}}}};
}

// A pod with one container asking `gpus` chips of `memory_mib` MiB and `cores`% each (0 = not
// given).
inline Json GpuPod(const std::string& name, int gpus, int64_t memory_mib = 0, int cores = 0,
                   const std::string& uid = "") {
  Json limits = {{"flexai.io/gpu", gpus}};
  if (memory_mib) limits["flexai.io/gpu-memory"] = memory_mib;
  if (cores) limits["flexai.io/gpu-cores"] = cores;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name}, {"namespace", "default"}, {"uid", uid.empty() ? "uid-" + name : uid}}},
          {"spec",
           {{"containers",
             {{{"name", "main"}, {"image", "cuda"}, {"resources", {{"limits", limits}}}}}}}},
          {"status", {{"phase", "Pending"}}}};
}

inline Json PlainPod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}},
          {"spec", {{"containers", {{{"name", "main"}, {"image", "nginx"}}}}}}};
}

// Polls for up to 20 s (watch events arrive on other threads); a bound against hangs, not a
// speed assertion.
template <typename F>
bool Eventually(F condition) {
  for (int i = 0; i < 2000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace flexai::extender::testing
