// NVML's memory queries (nvidia-smi, DCGM, frameworks that ask NVML) report the container's slice
// of a GPU: the quota as the total and the container's usage as used, like cuMemGetInfo does.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

#include "isolation/hook/hook_exports.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

// NVML's view of a device the container has a quota on: total = min(real total, quota), used =
// the container's usage of it (all its processes), free = what is left. Empty, and the caller's
// answer untouched, unless the device's UUID is in FLEXAI_VISIBLE_DEVICES in hook mode with a
// quota. `real` is the real NVML memory function: its library also answers the UUID query.
struct NvmlView {
  std::uint64_t total, used, free;
};
std::optional<NvmlView> NvmlQuotaView(const void* real, nvml::nvmlDevice_t device,
                                      std::uint64_t real_total) {
  HookState& state = State();
  if (!state.config.EnforcesMemory() || state.config.visible_uuids.empty()) return std::nullopt;
  using GetUuid = nvml::nvmlReturn_t(nvml::nvmlDevice_t, char*, unsigned int);
  auto* get_uuid = reinterpret_cast<GetUuid*>(SiblingSymbol(real, "nvmlDeviceGetUUID"));
  char uuid[nvml::kUuidBufferSize] = {};
  if (get_uuid == nullptr || get_uuid(device, uuid, sizeof(uuid)) != nvml::NVML_SUCCESS)
    return std::nullopt;
  uuid[sizeof(uuid) - 1] = '\0';
  int index = state.config.VisibleDeviceOfUuid(std::string_view(uuid, std::strlen(uuid)));
  if (index < 0 || index >= static_cast<int>(kUsageMaxDevices)) return std::nullopt;
  std::uint64_t limit = state.usage->LimitBytes(index);
  if (limit == kUnlimitedBytes) return std::nullopt;
  state.usage->ReclaimDeadProcesses();
  NvmlView view{std::min(real_total, limit), state.usage->UsedBytes(index), 0};
  view.free = view.used >= view.total ? 0 : view.total - view.used;
  return view;
}

// Calls the real NVML memory query and, when it succeeded, replaces its numbers with the quota
// view. Its return code is passed through unchanged. v2's `reserved` (driver and firmware memory)
// becomes 0: it lies outside the quota, which covers what the container allocates.
template <typename Memory>
nvml::nvmlReturn_t NvmlMemoryInfo(HookId id, nvml::nvmlDevice_t device, Memory* memory) {
  auto* real = Real<nvml::nvmlReturn_t(nvml::nvmlDevice_t, Memory*)>(id);
  if (real == nullptr) return nvml::NVML_ERROR_FUNCTION_NOT_FOUND;
  nvml::nvmlReturn_t result = real(device, memory);
  if (result != nvml::NVML_SUCCESS || memory == nullptr) return result;
  std::optional<NvmlView> view =
      NvmlQuotaView(reinterpret_cast<const void*>(real), device, memory->total);
  if (!view) return result;
  memory->total = view->total;
  memory->used = view->used;
  memory->free = view->free;
  if constexpr (std::is_same_v<Memory, nvml::nvmlMemory_v2_t>) memory->reserved = 0;
  return result;
}

}  // namespace
}  // namespace flexai::isolation

using flexai::isolation::HookId;
using flexai::nvml::nvmlDevice_t;
using flexai::nvml::nvmlMemory_t;
using flexai::nvml::nvmlMemory_v2_t;
using flexai::nvml::nvmlReturn_t;
namespace iso = flexai::isolation;

extern "C" {

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  return iso::NvmlMemoryInfo(HookId::kNvmlDeviceGetMemoryInfo, device, memory);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  return iso::NvmlMemoryInfo(HookId::kNvmlDeviceGetMemoryInfo_v2, device, memory);
}

}  // extern "C"
