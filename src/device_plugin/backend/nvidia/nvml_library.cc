#include "device_plugin/backend/nvidia/nvml_library.h"

namespace flexai::device_plugin {

Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::Load(const std::string& path) {
  auto opened = DynamicLibrary::Open(path);
  if (!opened) return Error{opened.error().message + " (is the NVIDIA driver installed?)"};
  std::unique_ptr<NvmlLibrary> nvml(new NvmlLibrary(std::move(*opened)));
  const DynamicLibrary& lib = *nvml->library_;
  nvmlInit_v2_fn init = nullptr;
  bool required = lib.Bind(init, "nvmlInit_v2") && lib.Bind(nvml->shutdown_, "nvmlShutdown") &&
                  lib.Bind(nvml->error_string_, "nvmlErrorString") &&
                  lib.Bind(nvml->GetCount, "nvmlDeviceGetCount_v2") &&
                  lib.Bind(nvml->GetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2") &&
                  lib.Bind(nvml->GetUUID, "nvmlDeviceGetUUID") &&
                  lib.Bind(nvml->GetName, "nvmlDeviceGetName") &&
                  lib.Bind(nvml->GetMemoryInfo, "nvmlDeviceGetMemoryInfo");
  if (!required) return Error{path + " lacks a required NVML function (driver too old?)"};
  lib.Bind(nvml->GetNumaNodeId, "nvmlDeviceGetNumaNodeId");
  lib.Bind(nvml->GetCpuAffinity, "nvmlDeviceGetCpuAffinity");
  lib.Bind(nvml->GetPciInfo, "nvmlDeviceGetPciInfo_v3");
  lib.Bind(nvml->GetNvLinkState, "nvmlDeviceGetNvLinkState");
  lib.Bind(nvml->GetNvLinkRemotePciInfo, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
  lib.Bind(nvml->GetMigMode, "nvmlDeviceGetMigMode");
  lib.Bind(nvml->EventSetCreate, "nvmlEventSetCreate");
  lib.Bind(nvml->RegisterEvents, "nvmlDeviceRegisterEvents");
  lib.Bind(nvml->EventSetWait, "nvmlEventSetWait_v2");
  lib.Bind(nvml->EventSetFree, "nvmlEventSetFree");
  if (nvmlReturn_t rc = init(); rc != NVML_SUCCESS) {
    return Error{nvml->Describe("nvmlInit_v2", rc)};
  }
  nvml->initialized_ = true;
  return nvml;
}

NvmlLibrary::~NvmlLibrary() {
  if (initialized_) shutdown_();
}

std::string NvmlLibrary::Describe(const char* call, nvmlReturn_t code) const {
  const char* text = error_string_ ? error_string_(code) : nullptr;
  return std::string(call) + ": " + (text ? text : "error") + " (" + std::to_string(code) + ")";
}

}  // namespace flexai::device_plugin
