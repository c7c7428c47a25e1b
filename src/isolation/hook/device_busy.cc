#include "isolation/hook/device_busy.h"

#include <dlfcn.h>

#include <algorithm>
#include <new>

#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {

bool DeviceBusy::Load() {
  if (loaded_) return usable_;
  loaded_ = true;
  // Kept loaded for the life of the process (NVML is refcounted; the program may use it too).
  void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return false;
  auto load = [&](auto& field, const char* name, const char* fallback) {
    void* symbol = RealDlsym()(library, name);
    if (symbol == nullptr && fallback != nullptr) symbol = RealDlsym()(library, fallback);
    field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(symbol);
  };
  load(api_.init, "nvmlInit_v2", "nvmlInit");
  load(api_.handle_by_uuid, "nvmlDeviceGetHandleByUUID", nullptr);
  load(api_.utilization, "nvmlDeviceGetUtilizationRates", nullptr);
  usable_ = api_.init != nullptr && api_.handle_by_uuid != nullptr && api_.utilization != nullptr &&
            api_.init() == nvml::NVML_SUCCESS;
  if (!usable_ && State().config.debug) HookLog("NVML is not usable: no share calibration");
  return usable_;
}

std::optional<double> DeviceBusy::Latest(int device, const std::string& uuid, bool* busy_caller) {
  if (device < 0 || device >= static_cast<int>(devices_.size()) || uuid.empty()) return {};
  // Another thread is asking (for another device, or loading NVML): a launch never waits for it.
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (busy_caller != nullptr) *busy_caller = true;
    return {};
  }
  if (forked_mid_call_ || !Load()) return {};
  Device& entry = devices_[static_cast<std::size_t>(device)];
  if (entry.handle == nullptr || entry.uuid != uuid) {
    entry = {};
    entry.uuid = uuid;
    if (api_.handle_by_uuid(uuid.c_str(), &entry.handle) != nvml::NVML_SUCCESS) {
      entry.handle = nullptr;
      return {};
    }
  }
  nvml::nvmlUtilization_t rates{};
  if (api_.utilization(entry.handle, &rates) != nvml::NVML_SUCCESS) return {};
  return std::min(rates.gpu, 100u) / 100.0;
}

void DeviceBusy::ResetInChild() {
  if (mutex_.try_lock()) {
    mutex_.unlock();
  } else {
    forked_mid_call_ = true;
    new (&mutex_) std::mutex();
  }
}

}  // namespace flexai::isolation
