// How busy a GPU was, as the driver measured it: NVML's share of its last sample period in which
// one or more kernels ran (nvmlDeviceGetUtilizationRates). Time-sliced contexts keep it at 100%
// while they switch, which the launches' estimated costs do not count (see ShareCalibration).
// Called from inside kernel launches: never blocks on another caller.
#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <string>

#include "isolation/hook/nvml_types.h"
#include "isolation/usage_layout.h"

namespace flexai::isolation {

class DeviceBusy {
 public:
  // `device`: the accounting slot; `uuid`: the GPU as NVML names it ("GPU-…"). The busy share
  // (0..1); nullopt when NVML cannot be loaded, does not know the GPU or gives no figure. Loads
  // libnvidia-ml.so.1 on first use. `busy_caller` (when given) is set when another thread was
  // asking: nothing was asked.
  std::optional<double> Latest(int device, const std::string& uuid, bool* busy_caller = nullptr);
  // In a fork child (one thread): the lock may have been held by another thread of the parent,
  // whose call may have left things half done; the child then never asks.
  void ResetInChild();

 private:
  struct Api {
    nvml::nvmlReturn_t (*init)() = nullptr;
    nvml::nvmlReturn_t (*handle_by_uuid)(const char*, nvml::nvmlDevice_t*) = nullptr;
    nvml::nvmlReturn_t (*utilization)(nvml::nvmlDevice_t, nvml::nvmlUtilization_t*) = nullptr;
  };
  struct Device {
    nvml::nvmlDevice_t handle = nullptr;
    std::string uuid;
  };
  bool Load();

  std::mutex mutex_;
  bool loaded_ = false, usable_ = false;
  bool forked_mid_call_ = false;  // a fork child of a thread's call: its state may be torn
  Api api_;
  std::array<Device, kUsageMaxDevices> devices_{};
};

}  // namespace flexai::isolation
