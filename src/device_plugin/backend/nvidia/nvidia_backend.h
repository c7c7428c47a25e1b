// NVIDIA GPUs through NVML: identity, memory, NUMA node (sysfs, else NVML), nearest CPUs (NVML,
// else sysfs), NVLink islands (GPUs joined directly or through the same NVSwitch), MIG mode (read
// only, reported), and health from critical XID events plus whether the GPU still answers.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device_plugin/backend/backend.h"
#include "device_plugin/backend/nvidia/nvml_library.h"

namespace flexai::device_plugin {

struct NvidiaBackendOptions {
  std::string library_path = "libnvidia-ml.so.1";
  std::string sysfs_root = "/sys";  // for the NUMA fallback; tests point it elsewhere
  // A GPU that reported a critical XID stays Unhealthy this long after the last one.
  std::chrono::milliseconds xid_hold = std::chrono::seconds(60);
};

class NvidiaBackend : public Backend {
 public:
  explicit NvidiaBackend(NvidiaBackendOptions options);
  ~NvidiaBackend() override;

  partition::Vendor vendor() const override { return partition::Vendor::kNvidia; }
  Result<std::vector<partition::Chip>> Discover() override;
  Result<HealthReport> CheckHealth() override;
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override;

  // XIDs that are the application's fault, not the GPU's (NVIDIA's device plugin skips the same).
  static bool IsApplicationXid(unsigned long long xid);

 private:
  struct Gpu {
    nvmlDevice_t handle = nullptr;
    std::string uuid;
    std::string bus_id;  // sysfs form, "0000:18:00.0"
  };
  Result<partition::Chip> ReadGpu(unsigned int index, Gpu& gpu);
  int NumaNodeOf(const Gpu& gpu) const;
  // NVML's CPU affinity, else the PCI device's local_cpulist in sysfs; "" when neither answers.
  std::string CpuAffinityOf(const Gpu& gpu) const;
  // Whether NVML says MIG mode is currently enabled (false when NVML cannot tell).
  bool MigEnabled(const Gpu& gpu) const;
  void AssignLinkGroups(std::vector<partition::Chip>& chips) const;
  void WatchXids();
  void DrainXidEvents(std::chrono::steady_clock::time_point now);

  NvidiaBackendOptions options_;
  std::unique_ptr<NvmlLibrary> nvml_;
  std::vector<Gpu> gpus_;
  nvmlEventSet_t events_ = nullptr;
  std::map<std::string, std::chrono::steady_clock::time_point> last_xid_;  // by uuid
};

// NVML's "00000000:18:00.0" as sysfs spells it: "0000:18:00.0".
std::string SysfsBusId(const std::string& nvml_bus_id);

}  // namespace flexai::device_plugin
