// This process's share of a GPU's time as the driver measured it: NVML's per-process SM
// utilisation (nvmlDeviceGetProcessUtilization) over the sample periods that ended since the last
// call. NVML names processes by their PID in the host's PID namespace: a process asks the device
// plugin for its host PID (the socket isolation::kHostPidSocketName in the GPU's activity folder)
// and, without an answer, uses its own PID only in the host's PID namespace (a pod's PID could be
// another process's on the host); when NVML does not list the PID among the GPU's compute
// processes, there is no figure. Called from inside kernel launches: never blocks on another
// caller, and the socket is given 200 ms at most.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "isolation/hook/nvml_types.h"
#include "isolation/usage_layout.h"

namespace flexai::isolation {

class DriverShare {
 public:
  // `device`: the accounting slot; `uuid`: the GPU as NVML names it ("GPU-…"). nullopt when NVML
  // cannot be loaded, does not know the GPU or this process, or reports no new sample period in
  // which this process ran. Loads libnvidia-ml.so.1 on first use.
  // `busy` (when given) is set when another thread was asking: nothing was asked.
  std::optional<double> Latest(int device, const std::string& uuid, bool* busy = nullptr);
  // In a fork child (one thread): the lock may have been held by another thread of the parent,
  // and the process is another one for NVML.
  void ResetInChild();

 private:
  struct Api {
    nvml::nvmlReturn_t (*init)() = nullptr;
    nvml::nvmlReturn_t (*handle_by_uuid)(const char*, nvml::nvmlDevice_t*) = nullptr;
    nvml::nvmlReturn_t (*processes)(nvml::nvmlDevice_t, unsigned int*,
                                    nvml::nvmlProcessInfo_t*) = nullptr;
    nvml::nvmlReturn_t (*utilization)(nvml::nvmlDevice_t, nvml::nvmlProcessUtilizationSample_t*,
                                      unsigned int*, unsigned long long) = nullptr;
  };
  struct Device {
    nvml::nvmlDevice_t handle = nullptr;
    std::string uuid;
    int checked_pid = 0;          // the PID last looked up in NVML's process list
    bool listed = false;          // whether NVML listed it
    std::int64_t checked_ns = 0;  // when (an unlisted PID is looked up again after a while)
    unsigned long long last_seen_us = 0;
  };
  bool Load();
  bool Listed(Device& entry, int pid);
  int NvmlPid(const std::string& uuid);

  std::mutex mutex_;
  bool loaded_ = false, usable_ = false;
  Api api_;
  std::array<Device, kUsageMaxDevices> devices_{};
  int nvml_pid_ = 0, nvml_pid_of_ = 0;  // NvmlPid's answer (0: none yet), for that getpid()
  std::int64_t next_ask_ns_ = 0;        // when to ask the device plugin again
};

}  // namespace flexai::isolation
