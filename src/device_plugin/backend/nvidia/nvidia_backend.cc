#include "device_plugin/backend/nvidia/nvidia_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "device_plugin/backend/cpu_affinity.h"
#include "device_plugin/backend/pci_numa.h"

namespace flexai::device_plugin {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// Union-find over bus IDs (GPUs and NVSwitches alike).
class BusGroups {
 public:
  void Join(const std::string& a, const std::string& b) { parent_[Find(a)] = Find(b); }
  std::string Find(const std::string& x) {
    auto it = parent_.find(x);
    if (it == parent_.end()) {
      parent_[x] = x;
      return x;
    }
    if (it->second == x) return x;
    std::string root = Find(it->second);
    parent_[x] = root;
    return root;
  }

 private:
  std::map<std::string, std::string> parent_;
};

}  // namespace

std::string SysfsBusId(const std::string& nvml_bus_id) {
  std::string id = nvml_bus_id;
  // The domain has 8 hex digits in NVML and 4 in sysfs.
  size_t colon = id.find(':');
  if (colon == 8 && id.compare(0, 4, "0000") == 0) id = id.substr(4);
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  return id;
}

NvidiaBackend::NvidiaBackend(NvidiaBackendOptions options) : options_(std::move(options)) {}

NvidiaBackend::~NvidiaBackend() {
  if (events_ != nullptr && nvml_ && nvml_->EventSetFree) nvml_->EventSetFree(events_);
}

bool NvidiaBackend::IsApplicationXid(unsigned long long xid) {
  // 13 graphics engine exception, 31 GPU memory page fault, 43 GPU stopped processing,
  // 45 preemptive cleanup, 68 video processor exception, 109 context switch timeout.
  return xid == 13 || xid == 31 || xid == 43 || xid == 45 || xid == 68 || xid == 109;
}

int NvidiaBackend::NumaNodeOf(const Gpu& gpu) const {
  // The PCI device's node in sysfs is the CPU-side affinity kubelet's topology manager wants;
  // NVML's NUMA ID (on coherent platforms, the GPU memory's own node) is the fallback.
  if (int node = PciNumaNode(options_.sysfs_root, gpu.bus_id); node >= 0) return node;
  if (nvml_->GetNumaNodeId) {
    unsigned int node = 0;
    if (nvml_->GetNumaNodeId(gpu.handle, &node) == NVML_SUCCESS) return static_cast<int>(node);
  }
  return -1;  // unknown, or a single-node machine
}

std::string NvidiaBackend::CpuAffinityOf(const Gpu& gpu) const {
  if (nvml_->GetCpuAffinity) {
    std::vector<unsigned long> mask(64);  // room for 4096 CPUs
    if (nvml_->GetCpuAffinity(gpu.handle, static_cast<unsigned int>(mask.size()), mask.data()) ==
        NVML_SUCCESS) {
      if (std::string list = CpuListFromMask(mask); !list.empty()) return list;
    }
  }
  return PciLocalCpuList(options_.sysfs_root, gpu.bus_id);
}

Result<partition::Chip> NvidiaBackend::ReadGpu(unsigned int index, Gpu& gpu) {
  auto fail = [&](const char* call, nvmlReturn_t rc) {
    return Error{"GPU " + std::to_string(index) + ": " + nvml_->Describe(call, rc)};
  };
  if (nvmlReturn_t rc = nvml_->GetHandleByIndex(index, &gpu.handle); rc != NVML_SUCCESS) {
    return fail("nvmlDeviceGetHandleByIndex_v2", rc);
  }
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
  if (nvmlReturn_t rc = nvml_->GetUUID(gpu.handle, uuid, sizeof uuid); rc != NVML_SUCCESS) {
    return fail("nvmlDeviceGetUUID", rc);
  }
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {};
  if (nvmlReturn_t rc = nvml_->GetName(gpu.handle, name, sizeof name); rc != NVML_SUCCESS) {
    return fail("nvmlDeviceGetName", rc);
  }
  nvmlMemory_t memory{};
  if (nvmlReturn_t rc = nvml_->GetMemoryInfo(gpu.handle, &memory); rc != NVML_SUCCESS) {
    return fail("nvmlDeviceGetMemoryInfo", rc);
  }
  gpu.uuid = uuid;
  if (nvml_->GetPciInfo) {
    nvmlPciInfo_t pci{};
    if (nvml_->GetPciInfo(gpu.handle, &pci) == NVML_SUCCESS) gpu.bus_id = SysfsBusId(pci.busId);
  }
  partition::Chip chip;
  if (MigEnabled(gpu)) {
    // CUDA inside a container that gets the whole MIG-enabled GPU finds no usable device, so
    // slicing it would only start pods that fail. It is listed, never served.
    spdlog::error(
        "GPU {} ({}) has MIG enabled: flexai does not hand out MIG instances, so it reports this "
        "GPU Unhealthy and places nothing on it (disable MIG, or serve it with NVIDIA's MIG device "
        "plugin). flexai never changes the MIG mode.",
        index, gpu.uuid);
    chip.health = partition::Health::kUnhealthy;
  }
  chip.vendor = partition::Vendor::kNvidia;
  chip.uuid = gpu.uuid;
  chip.model = name;
  chip.memory_mib = static_cast<int64_t>(memory.total / kMiB);
  chip.numa_node = NumaNodeOf(gpu);
  chip.cpu_affinity = CpuAffinityOf(gpu);
  return chip;
}

bool NvidiaBackend::MigEnabled(const Gpu& gpu) const {
  if (!nvml_->GetMigMode) return false;  // drivers before MIG: never enabled
  unsigned int current = 0, pending = 0;
  return nvml_->GetMigMode(gpu.handle, &current, &pending) == NVML_SUCCESS &&
         current == NVML_DEVICE_MIG_ENABLE;
}

void NvidiaBackend::AssignLinkGroups(std::vector<partition::Chip>& chips) const {
  if (!nvml_->GetNvLinkState || !nvml_->GetNvLinkRemotePciInfo) return;
  BusGroups groups;
  std::vector<bool> linked(gpus_.size(), false);
  for (size_t i = 0; i < gpus_.size(); ++i) {
    const std::string self = gpus_[i].bus_id.empty() ? gpus_[i].uuid : gpus_[i].bus_id;
    groups.Find(self);
    for (unsigned int link = 0; link < NVML_NVLINK_MAX_LINKS; ++link) {
      nvmlEnableState_t state = NVML_FEATURE_DISABLED;
      if (nvml_->GetNvLinkState(gpus_[i].handle, link, &state) != NVML_SUCCESS) continue;
      if (state != NVML_FEATURE_ENABLED) continue;
      nvmlPciInfo_t remote{};
      if (nvml_->GetNvLinkRemotePciInfo(gpus_[i].handle, link, &remote) != NVML_SUCCESS) continue;
      // The far end is a peer GPU or an NVSwitch: either way, same island.
      groups.Join(self, SysfsBusId(remote.busId));
      linked[i] = true;
    }
  }
  std::map<std::string, int> group_ids;  // root -> id, numbered by first GPU index
  for (size_t i = 0; i < gpus_.size(); ++i) {
    if (!linked[i]) continue;
    std::string root = groups.Find(gpus_[i].bus_id.empty() ? gpus_[i].uuid : gpus_[i].bus_id);
    auto [it, added] = group_ids.emplace(root, static_cast<int>(group_ids.size()));
    chips[i].link_group = it->second;
  }
}

void NvidiaBackend::WatchXids() {
  if (!nvml_->EventSetCreate || !nvml_->RegisterEvents || !nvml_->EventSetWait) {
    spdlog::warn("NVML has no event API: GPU health comes only from whether GPUs answer");
    return;
  }
  if (nvmlReturn_t rc = nvml_->EventSetCreate(&events_); rc != NVML_SUCCESS) {
    spdlog::warn("{}; XID health events disabled", nvml_->Describe("nvmlEventSetCreate", rc));
    events_ = nullptr;
    return;
  }
  for (const auto& gpu : gpus_) {
    nvmlReturn_t rc = nvml_->RegisterEvents(gpu.handle, nvmlEventTypeXidCriticalError, events_);
    if (rc != NVML_SUCCESS) {
      spdlog::warn("GPU {}: {}; its XIDs are not watched", gpu.uuid,
                   nvml_->Describe("nvmlDeviceRegisterEvents", rc));
    }
  }
}

Result<std::vector<partition::Chip>> NvidiaBackend::Discover() {
  if (!nvml_) {
    auto nvml = NvmlLibrary::Load(options_.library_path);
    if (!nvml) return nvml.error();
    nvml_ = std::move(*nvml);
  }
  unsigned int count = 0;
  if (nvmlReturn_t rc = nvml_->GetCount(&count); rc != NVML_SUCCESS) {
    return Error{nvml_->Describe("nvmlDeviceGetCount_v2", rc)};
  }
  // A GPU that cannot be read (lost after an XID 79, a failed call) is left out, so that the
  // others are still served; only a node where none can be read fails. Chip indexes stay 0..n-1
  // in NVML order, and gpus_ stays aligned with the chips returned.
  gpus_.clear();
  std::vector<partition::Chip> chips;
  std::string first_error;
  for (unsigned int i = 0; i < count; ++i) {
    Gpu gpu;
    auto chip = ReadGpu(i, gpu);
    if (!chip) {
      spdlog::error("{}; this GPU is not served until the device plugin restarts",
                    chip.error().message);
      if (first_error.empty()) first_error = chip.error().message;
      continue;
    }
    chip->index = static_cast<int>(chips.size());
    gpus_.push_back(std::move(gpu));
    chips.push_back(std::move(*chip));
  }
  if (chips.empty() && count > 0) {
    return Error{"none of the " + std::to_string(count) +
                 " GPUs can be read (first: " + first_error + ")"};
  }
  AssignLinkGroups(chips);
  if (events_ == nullptr) WatchXids();
  return chips;
}

void NvidiaBackend::DrainXidEvents(std::chrono::steady_clock::time_point now) {
  if (events_ == nullptr) return;
  for (int i = 0; i < 64; ++i) {  // bounded: never spin on a flood
    nvmlEventData_t event{};
    nvmlReturn_t rc = nvml_->EventSetWait(events_, &event, 0);
    if (rc == NVML_ERROR_TIMEOUT) return;
    if (rc != NVML_SUCCESS) {
      spdlog::debug("{}", nvml_->Describe("nvmlEventSetWait_v2", rc));
      return;
    }
    if (event.eventType != nvmlEventTypeXidCriticalError) continue;
    if (IsApplicationXid(event.eventData)) {
      spdlog::info("XID {} is an application error; GPU health unchanged", event.eventData);
      continue;
    }
    bool any = false;
    for (const auto& gpu : gpus_) {
      if (event.device == nullptr || event.device == gpu.handle) {
        spdlog::error("GPU {} reported critical XID {}", gpu.uuid, event.eventData);
        last_xid_[gpu.uuid] = now;
        any = true;
      }
    }
    if (!any) spdlog::error("critical XID {} from an unknown GPU", event.eventData);
  }
}

Result<HealthReport> NvidiaBackend::CheckHealth() {
  if (!nvml_) return Error{"NVML is not loaded"};
  auto now = std::chrono::steady_clock::now();
  DrainXidEvents(now);
  HealthReport report;
  for (const auto& gpu : gpus_) {
    nvmlMemory_t memory{};
    bool answers = nvml_->GetMemoryInfo(gpu.handle, &memory) == NVML_SUCCESS;
    auto xid = last_xid_.find(gpu.uuid);
    bool recent_xid = xid != last_xid_.end() && now - xid->second <= options_.xid_hold;
    if (xid != last_xid_.end() && !recent_xid) last_xid_.erase(xid);
    // MIG is read-only to flexai, but an admin may enable it (with a GPU reset) at any time.
    bool usable = answers && !recent_xid && !MigEnabled(gpu);
    report[gpu.uuid] = usable ? partition::Health::kHealthy : partition::Health::kUnhealthy;
  }
  return report;
}

std::map<std::string, std::string> NvidiaBackend::VisibleDevicesEnv(
    const std::vector<partition::Chip>& chips) const {
  std::string uuids;
  for (const auto& chip : chips) uuids += (uuids.empty() ? "" : ",") + chip.uuid;
  return {{"NVIDIA_VISIBLE_DEVICES", uuids}};
}

}  // namespace flexai::device_plugin
