// A fake libnvidia-ml.so.1 exporting the NVML symbols flexai uses. Behaviour comes from the JSON
// file named by FAKE_NVML_CONFIG (re-read when it changes):
//   {"init": 0,                                   // nvmlInit_v2's return code
//    "errors": {"nvmlDeviceGetCount_v2": 999},     // library-wide injected return codes
//    "devices": [{"uuid": "GPU-…", "name": "NVIDIA H100 80GB HBM3",
//                 "memoryTotal": 85520809984,      // bytes
//                 "memoryUsed": 0, "memoryReserved": 0,  // bytes (v2 reports reserved apart)
//                 "numa": 0,                       // omitted: GetNumaNodeId is NOT_SUPPORTED
//                 "cpus": [0, 1, 64],              // omitted: GetCpuAffinity is NOT_SUPPORTED
//                 "busId": "00000000:18:00.0",
//                 "nvlinks": ["00000000:2A:00.0"], // remote bus IDs of enabled links
//                 "mig": 0, "lost": false,         // lost: every call answers GPU_IS_LOST
//                 "errors": {"nvmlDeviceGetName": 999},
//                 "gpuUtil": 100}],                // nvmlDeviceGetUtilizationRates's gpu %
//    "xid": [{"id": 1, "device": 0, "xid": 79}]}  // each id is delivered once; device -1 = all
// Test-only code.
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fake_config.h"

namespace {

using flexai::fakes::InjectedError;
using nlohmann::json;

typedef int nvmlReturn_t;
constexpr nvmlReturn_t kSuccess = 0, kUninitialized = 1, kInvalidArgument = 2, kNotSupported = 3,
                       kNotFound = 6, kInsufficientSize = 7, kTimeout = 10, kGpuIsLost = 15,
                       kArgumentVersionMismatch = 25;

struct Event {
  void* device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
struct Memory {
  unsigned long long total, free, used;
};
struct MemoryV2 {
  unsigned int version;
  unsigned long long total, reserved, free, used;
};
constexpr unsigned int kMemoryV2Version = sizeof(MemoryV2) | (2u << 24);  // nvmlMemory_v2
struct PciInfo {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};

flexai::fakes::FakeConfig g_config("FAKE_NVML_CONFIG");
std::mutex g_mu;
bool g_initialized = false;
std::set<int> g_delivered_xids;
int g_event_set_token = 0;

// Device handles are 1-based indexes disguised as pointers.
void* HandleOf(size_t index) { return reinterpret_cast<void*>(index + 1); }

// The device behind `handle`, or null; `rc` says why not.
bool Device(void* handle, json& device, nvmlReturn_t& rc, const char* function) {
  json config = g_config.Get();
  size_t index = reinterpret_cast<size_t>(handle);
  if (!g_initialized) {
    rc = kUninitialized;
    return false;
  }
  if (index == 0 || !config.contains("devices") || index > config["devices"].size()) {
    rc = kInvalidArgument;
    return false;
  }
  device = config["devices"][index - 1];
  if (device.value("lost", false)) {
    rc = kGpuIsLost;
    return false;
  }
  rc = InjectedError(device, function);
  return rc == kSuccess;
}

nvmlReturn_t CopyString(const std::string& value, char* out, unsigned int length) {
  if (out == nullptr || value.size() + 1 > length) return kInsufficientSize;
  std::memcpy(out, value.c_str(), value.size() + 1);
  return kSuccess;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlInit_v2() {
  json config = g_config.Get();
  nvmlReturn_t rc = config.value("init", 0);
  std::lock_guard lock(g_mu);
  g_initialized = rc == kSuccess;
  return rc;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlShutdown() {
  std::lock_guard lock(g_mu);
  g_initialized = false;
  return kSuccess;
}

__attribute__((visibility("default"))) const char* nvmlErrorString(nvmlReturn_t rc) {
  switch (rc) {
    case kSuccess:
      return "Success";
    case kUninitialized:
      return "Uninitialized";
    case kInvalidArgument:
      return "Invalid Argument";
    case kNotSupported:
      return "Not Supported";
    case kGpuIsLost:
      return "GPU is lost";
    case 9:
      return "Driver Not Loaded";
    default:
      return "Unknown Error";
  }
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!g_initialized) return kUninitialized;
  json config = g_config.Get();
  if (int rc = InjectedError(config, "nvmlDeviceGetCount_v2")) return rc;
  *count = config.contains("devices") ? static_cast<unsigned int>(config["devices"].size()) : 0;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(
    unsigned int index, void** handle) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(HandleOf(index), device, rc, "nvmlDeviceGetHandleByIndex_v2")) return rc;
  *handle = HandleOf(index);
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid,
                                                                              void** handle) {
  if (!g_initialized) return kUninitialized;
  json config = g_config.Get();
  if (uuid == nullptr || handle == nullptr) return kInvalidArgument;
  json devices = config.value("devices", json::array());
  for (size_t i = 0; i < devices.size(); ++i) {
    if (devices[i].value("uuid", "") == uuid) {
      *handle = HandleOf(i);
      return kSuccess;
    }
  }
  return kNotFound;
}

// The device's "gpuUtil" (percent of the last sample period in which kernels ran; default 0).
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUtilizationRates(
    void* handle, unsigned int* rates) {  // nvmlUtilization_t: gpu, memory
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetUtilizationRates")) return rc;
  if (rates == nullptr) return kInvalidArgument;
  rates[0] = device.value("gpuUtil", 0u);
  rates[1] = 0;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUUID(void* handle, char* uuid,
                                                                      unsigned int length) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetUUID")) return rc;
  return CopyString(device.value("uuid", ""), uuid, length);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetName(void* handle, char* name,
                                                                      unsigned int length) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetName")) return rc;
  return CopyString(device.value("name", "NVIDIA H100 80GB HBM3"), name, length);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo(void* handle,
                                                                            Memory* memory) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetMemoryInfo")) return rc;
  if (memory == nullptr) return kInvalidArgument;
  memory->total = device.value("memoryTotal", 85520809984ULL);
  memory->used = device.value("memoryUsed", 0ULL) + device.value("memoryReserved", 0ULL);
  memory->free = memory->total - memory->used;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(void* handle,
                                                                               MemoryV2* memory) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetMemoryInfo_v2")) return rc;
  if (memory == nullptr) return kInvalidArgument;
  if (memory->version != kMemoryV2Version) return kArgumentVersionMismatch;
  memory->total = device.value("memoryTotal", 85520809984ULL);
  memory->reserved = device.value("memoryReserved", 0ULL);
  memory->used = device.value("memoryUsed", 0ULL);
  memory->free = memory->total - memory->reserved - memory->used;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNumaNodeId(void* handle,
                                                                            unsigned int* node) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetNumaNodeId")) return rc;
  if (!device.contains("numa")) return kNotSupported;
  *node = device["numa"].get<unsigned int>();
  return kSuccess;
}

// cpuSetSize counts unsigned longs; CPUs that do not fit are left out, as the real library does.
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCpuAffinity(
    void* handle, unsigned int cpuSetSize, unsigned long* cpuSet) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetCpuAffinity")) return rc;
  if (cpuSet == nullptr || cpuSetSize == 0) return kInvalidArgument;
  if (!device.contains("cpus")) return kNotSupported;
  constexpr unsigned int kBits = sizeof(unsigned long) * 8;
  std::memset(cpuSet, 0, cpuSetSize * sizeof(unsigned long));
  for (unsigned int cpu : device["cpus"].get<std::vector<unsigned int>>()) {
    if (cpu / kBits < cpuSetSize) cpuSet[cpu / kBits] |= 1UL << (cpu % kBits);
  }
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetPciInfo_v3(void* handle,
                                                                            PciInfo* pci) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetPciInfo_v3")) return rc;
  std::memset(pci, 0, sizeof *pci);
  return CopyString(device.value("busId", ""), pci->busId, sizeof pci->busId);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNvLinkState(void* handle,
                                                                             unsigned int link,
                                                                             int* state) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetNvLinkState")) return rc;
  if (!device.contains("nvlinks")) return kNotSupported;
  *state = link < device["nvlinks"].size() ? 1 : 0;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(
    void* handle, unsigned int link, PciInfo* pci) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetNvLinkRemotePciInfo_v2")) return rc;
  if (!device.contains("nvlinks") || link >= device["nvlinks"].size()) return kInvalidArgument;
  std::memset(pci, 0, sizeof *pci);
  return CopyString(device["nvlinks"][link].get<std::string>(), pci->busId, sizeof pci->busId);
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMigMode(void* handle,
                                                                         unsigned int* current,
                                                                         unsigned int* pending) {
  json device;
  nvmlReturn_t rc = kSuccess;
  if (!Device(handle, device, rc, "nvmlDeviceGetMigMode")) return rc;
  *current = *pending = device.value("mig", 0u);
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetCreate(void** set) {
  if (!g_initialized) return kUninitialized;
  if (int rc = InjectedError(g_config.Get(), "nvmlEventSetCreate")) return rc;
  *set = &g_event_set_token;
  return kSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceRegisterEvents(void* handle,
                                                                             unsigned long long,
                                                                             void*) {
  json device;
  nvmlReturn_t rc = kSuccess;
  Device(handle, device, rc, "nvmlDeviceRegisterEvents");
  return rc;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetWait_v2(void* set, Event* event,
                                                                        unsigned int) {
  if (!g_initialized) return kUninitialized;
  if (set != &g_event_set_token) return kInvalidArgument;
  json config = g_config.Get();
  if (!config.contains("xid")) return kTimeout;
  std::lock_guard lock(g_mu);
  for (const auto& xid : config["xid"]) {
    int id = xid.value("id", 0);
    if (g_delivered_xids.contains(id)) continue;
    g_delivered_xids.insert(id);
    int device = xid.value("device", 0);
    std::memset(event, 0, sizeof *event);
    event->device = device < 0 ? nullptr : HandleOf(static_cast<size_t>(device));
    event->eventType = 0x8;  // nvmlEventTypeXidCriticalError
    event->eventData = xid.value("xid", 79ULL);
    return kSuccess;
  }
  return kTimeout;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlEventSetFree(void*) { return kSuccess; }

}  // extern "C"
