// libnvidia-ml.so.1 opened at run time, with the entry points flexai uses bound by name.
// Required ones must exist; optional ones (NUMA, CPU affinity, PCI, NVLink, MIG, events) may be
// null on old drivers and the backend degrades gracefully.
#pragma once

#include <memory>
#include <string>

#include "device_plugin/backend/dynamic_library.h"
#include "device_plugin/backend/nvidia/nvml_api.h"

namespace flexai::device_plugin {

class NvmlLibrary {
 public:
  // Opens the library and calls nvmlInit_v2; nvmlShutdown runs on destruction.
  static Result<std::unique_ptr<NvmlLibrary>> Load(const std::string& path);
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  // "nvmlDeviceGetName: GPU is lost (15)" style text.
  std::string Describe(const char* call, nvmlReturn_t code) const;

  nvmlDeviceGetCount_v2_fn GetCount = nullptr;
  nvmlDeviceGetHandleByIndex_v2_fn GetHandleByIndex = nullptr;
  nvmlDeviceGetUUID_fn GetUUID = nullptr;
  nvmlDeviceGetName_fn GetName = nullptr;
  nvmlDeviceGetMemoryInfo_fn GetMemoryInfo = nullptr;
  // Optional.
  nvmlDeviceGetNumaNodeId_fn GetNumaNodeId = nullptr;
  nvmlDeviceGetCpuAffinity_fn GetCpuAffinity = nullptr;
  nvmlDeviceGetPciInfo_v3_fn GetPciInfo = nullptr;
  nvmlDeviceGetNvLinkState_fn GetNvLinkState = nullptr;
  nvmlDeviceGetNvLinkRemotePciInfo_v2_fn GetNvLinkRemotePciInfo = nullptr;
  nvmlDeviceGetMigMode_fn GetMigMode = nullptr;
  nvmlEventSetCreate_fn EventSetCreate = nullptr;
  nvmlDeviceRegisterEvents_fn RegisterEvents = nullptr;
  nvmlEventSetWait_v2_fn EventSetWait = nullptr;
  nvmlEventSetFree_fn EventSetFree = nullptr;

 private:
  explicit NvmlLibrary(std::unique_ptr<DynamicLibrary> library) : library_(std::move(library)) {}
  std::unique_ptr<DynamicLibrary> library_;
  nvmlShutdown_fn shutdown_ = nullptr;
  nvmlErrorString_fn error_string_ = nullptr;
  bool initialized_ = false;
};

}  // namespace flexai::device_plugin
