// A stand-in libcuda.so.1 for testing libflexai-cuda.so without a GPU: a few devices with
// FAKE_CUDA_MEMORY_MIB of memory each (default 1024, FAKE_CUDA_DEVICES default 2), real
// out-of-memory at capacity, kernels that occupy a simulated device timeline for as many
// microseconds as the CUfunction's numeric value, events on that timeline, VMM handles whose
// memory lives until every reference (create, retains) is released and the last mapping is
// unmapped, and cuGetProcAddress with versioned and
// per-thread-stream look-ups. Counts calls per symbol for the tests.
// FAKE_CUDA_GRID_SCALES: see cuLaunchKernel.
// Processes that name the same FAKE_CUDA_SHARED_GPU file share one simulated GPU, time-sliced as
// contexts of different processes are on a real one: while another process has kernels queued,
// a kernel runs at half speed (so its event timing doubles). Simplified: the other process's
// kernels, queued earlier, are not stretched in turn.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "isolation/hook/cuda_types.h"

using namespace flexai::cuda;  // NOLINT: the fake mirrors cuda.h's global names

namespace {

constexpr int kMaxDevices = 8;

struct Device {
  std::atomic<std::uint64_t> used{0};
  std::atomic<std::uint64_t> peak{0};
  std::atomic<std::int64_t> busy_until_ns{0};
};

struct Driver {
  int device_count = 2;
  std::uint64_t capacity = 1024ULL << 20;
  Device devices[kMaxDevices];
  std::atomic<std::uint64_t> next_address{0x7f0000000000ULL};
  std::mutex mutex;
  std::unordered_map<std::uint64_t, std::pair<int, std::uint64_t>>
      allocations;                                         // key -> device, bytes
  std::unordered_map<std::uint64_t, std::int64_t> events;  // event -> timestamp
  // VMM: a cuMemCreate handle's memory lives until its references (cuMemCreate's and one per
  // cuMemRetainAllocationHandle) are released and its last mapping is gone.
  struct Handle {
    int mappings = 0;
    int references = 1;
  };
  std::unordered_map<std::uint64_t, Handle> handles;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> mappings;  // va -> size, handle
  std::map<std::string, int> calls;
  // Contexts: a device's primary one is ordinal + 1; cuCtxCreate makes 0x1000, 0x1001, ….
  // Pointers and arrays belong to the context current when they were made and are freed with it
  // (destroy, reset, or the primary's last release); VMM handles are not.
  std::unordered_map<std::uint64_t, std::uintptr_t> context_of;  // allocation key -> context
  std::unordered_map<std::uintptr_t, int> created;               // created context -> device
  std::uintptr_t next_context = 0x1000;
  int primary_references[kMaxDevices] = {};
};

Driver& TheDriver() {
  static Driver* driver = [] {
    auto* d = new Driver();  // leaked on purpose: used until the process exits
    if (const char* mib = std::getenv("FAKE_CUDA_MEMORY_MIB"))
      d->capacity = std::strtoull(mib, nullptr, 10) << 20;
    if (const char* count = std::getenv("FAKE_CUDA_DEVICES")) d->device_count = std::atoi(count);
    return d;
  }();
  return *driver;
}

thread_local int t_device = 0;
thread_local std::uintptr_t t_context = 1;  // device 0's primary context

// Frees what belongs to `context` (driver.mutex held).
void FreeContextLocked(Driver& driver, std::uintptr_t context) {
  for (auto it = driver.context_of.begin(); it != driver.context_of.end();) {
    if (it->second != context) {
      ++it;
      continue;
    }
    if (auto found = driver.allocations.find(it->first); found != driver.allocations.end()) {
      driver.devices[found->second.first].used.fetch_sub(found->second.second);
      driver.allocations.erase(found);
    }
    it = driver.context_of.erase(it);
  }
}

void Count(const char* symbol) {
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  ++driver.calls[symbol];
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

CUresult FakeAlloc(const char* symbol, std::uint64_t* key, std::uint64_t bytes, int device) {
  Count(symbol);
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  Device& dev = driver.devices[device];
  std::uint64_t used = dev.used.load();
  do {
    if (used + bytes > driver.capacity) return CUDA_ERROR_OUT_OF_MEMORY;
  } while (!dev.used.compare_exchange_weak(used, used + bytes));
  std::uint64_t peak = dev.peak.load();
  while (peak < used + bytes && !dev.peak.compare_exchange_weak(peak, used + bytes)) {
  }
  *key = driver.next_address.fetch_add((bytes + 0xFFFF) & ~0xFFFFULL) + 0;
  std::lock_guard lock(driver.mutex);
  driver.allocations[*key] = {device, bytes};
  driver.context_of[*key] = t_context;
  return CUDA_SUCCESS;
}

CUresult FakeFree(const char* symbol, std::uint64_t key) {
  Count(symbol);
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  auto found = driver.allocations.find(key);
  if (found == driver.allocations.end()) return CUDA_ERROR_INVALID_VALUE;
  driver.devices[found->second.first].used.fetch_sub(found->second.second);
  driver.allocations.erase(found);
  driver.context_of.erase(key);
  return CUDA_SUCCESS;
}

// One process's queued work on the FAKE_CUDA_SHARED_GPU file.
struct SharedGpuSlot {
  std::atomic<std::int64_t> pid;
  std::atomic<std::int64_t> busy_until_ns;
};
constexpr int kSharedGpuSlots = 32;

// This process's slot and the whole table, or null without FAKE_CUDA_SHARED_GPU.
SharedGpuSlot* SharedGpu() {
  static SharedGpuSlot* slots = []() -> SharedGpuSlot* {
    const char* path = std::getenv("FAKE_CUDA_SHARED_GPU");
    if (path == nullptr) return nullptr;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return nullptr;
    const std::size_t bytes = sizeof(SharedGpuSlot) * kSharedGpuSlots;
    void* memory = ftruncate(fd, static_cast<off_t>(bytes)) == 0
                       ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                       : MAP_FAILED;
    close(fd);
    return memory == MAP_FAILED ? nullptr : static_cast<SharedGpuSlot*>(memory);
  }();
  return slots;
}

// When a kernel of `work_ns` that may start at `start_ns` ends, and (shared GPU) posts it.
std::int64_t KernelEnd(std::int64_t start_ns, std::int64_t work_ns) {
  SharedGpuSlot* slots = SharedGpu();
  if (slots == nullptr) return start_ns + work_ns;
  const std::int64_t pid = getpid();
  std::int64_t others = 0;
  SharedGpuSlot* mine = nullptr;
  for (int i = 0; i < kSharedGpuSlots; ++i) {
    std::int64_t held = slots[i].pid.load();
    if (held == pid) {
      mine = &slots[i];
    } else if (held != 0) {
      others = std::max(others, slots[i].busy_until_ns.load());
    }
  }
  std::int64_t end = start_ns + work_ns;
  if (others > start_ns) {  // half speed until the others' queue drains
    end = start_ns + 2 * work_ns <= others ? start_ns + 2 * work_ns
                                           : others + work_ns - (others - start_ns) / 2;
  }
  for (int i = 0; mine == nullptr && i < kSharedGpuSlots; ++i) {
    std::int64_t free = 0;
    if (slots[i].pid.compare_exchange_strong(free, pid)) mine = &slots[i];
  }
  if (mine != nullptr) mine->busy_until_ns.store(end);
  return end;
}

CUresult FakeLaunch(const char* symbol, std::uint64_t microseconds) {
  Count(symbol);
  Device& dev = TheDriver().devices[t_device];
  std::int64_t now = NowNs();
  std::int64_t busy = dev.busy_until_ns.load();
  while (!dev.busy_until_ns.compare_exchange_weak(
      busy, KernelEnd(std::max(busy, now), static_cast<std::int64_t>(microseconds) * 1000))) {
  }
  return CUDA_SUCCESS;
}

void WaitUntil(std::int64_t deadline_ns) {
  std::int64_t now = NowNs();
  if (deadline_ns > now) std::this_thread::sleep_for(std::chrono::nanoseconds(deadline_ns - now));
}

template <typename Descriptor>
std::uint64_t ArrayBytes(const Descriptor& desc, std::uint64_t depth) {
  return std::uint64_t{desc.Width} * std::max<std::uint64_t>(desc.Height, 1) *
         std::max<std::uint64_t>(depth, 1) * ArrayFormatBytes(desc.Format) *
         std::max<std::uint64_t>(desc.NumChannels, 1);
}

}  // namespace

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

FAKE_EXPORT CUresult cuInit(unsigned) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuDriverGetVersion(int* version) {
  *version = 13000;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetCount(int* count) {
  *count = TheDriver().device_count;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  if (ordinal < 0 || ordinal >= TheDriver().device_count) return CUDA_ERROR_INVALID_VALUE;
  *device = ordinal;
  return CUDA_SUCCESS;
}
// A context is its device ordinal + 1.
FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  {
    std::lock_guard lock(driver.mutex);
    ++driver.primary_references[device];
  }
  *context = reinterpret_cast<CUcontext>(static_cast<std::uintptr_t>(device + 1));
  return CUDA_SUCCESS;
}
// A device's UUID: the ordinal-th entry of FAKE_CUDA_UUIDS ("GPU-…,GPU-…", as a container with
// CUDA_VISIBLE_DEVICES renumbering its GPUs would see them), else bytes 0…0 then the ordinal.
FAKE_EXPORT CUresult cuDeviceGetUuid_v2(unsigned char (*uuid)[16], CUdevice device) {
  if (device < 0 || device >= TheDriver().device_count) return CUDA_ERROR_INVALID_VALUE;
  std::memset(*uuid, 0, 16);
  (*uuid)[15] = static_cast<unsigned char>(device);
  const char* list = std::getenv("FAKE_CUDA_UUIDS");
  if (list == nullptr) return CUDA_SUCCESS;
  std::string text = list;
  std::size_t start = 0;
  for (int i = 0; i < device && start != std::string::npos; ++i) {
    start = text.find(',', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos) return CUDA_SUCCESS;
  std::string hex;
  for (std::size_t i = start + 4; i < text.size() && text[i] != ','; ++i) {
    if (text[i] != '-') hex += text[i];
  }
  for (std::size_t i = 0; i < 16 && 2 * i + 1 < hex.size(); ++i) {
    (*uuid)[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  Driver& driver = TheDriver();
  auto id = reinterpret_cast<std::uintptr_t>(context);
  std::lock_guard lock(driver.mutex);
  auto created = driver.created.find(id);
  t_device = created != driver.created.end() ? created->second : static_cast<int>(id) - 1;
  t_context = id;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxGetCurrent(CUcontext* context) {
  *context = reinterpret_cast<CUcontext>(t_context);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxCreate_v2(CUcontext* context, unsigned, CUdevice device) {
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  std::uintptr_t id = 0;
  {
    std::lock_guard lock(driver.mutex);
    id = driver.next_context++;
    driver.created[id] = device;
  }
  *context = reinterpret_cast<CUcontext>(id);
  return cuCtxSetCurrent(*context);
}
FAKE_EXPORT CUresult cuCtxDestroy_v2(CUcontext context) {
  Count("cuCtxDestroy_v2");
  Driver& driver = TheDriver();
  auto id = reinterpret_cast<std::uintptr_t>(context);
  std::lock_guard lock(driver.mutex);
  if (driver.created.erase(id) == 0) return CUDA_ERROR_INVALID_VALUE;
  FreeContextLocked(driver, id);
  if (t_context == id) t_context = 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice device) {
  Count("cuDevicePrimaryCtxReset_v2");
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(driver.mutex);
  FreeContextLocked(driver, static_cast<std::uintptr_t>(device) + 1);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  Count("cuDevicePrimaryCtxRelease_v2");
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(driver.mutex);
  if (driver.primary_references[device] == 0) return CUDA_ERROR_INVALID_VALUE;
  if (--driver.primary_references[device] == 0) {
    FreeContextLocked(driver, static_cast<std::uintptr_t>(device) + 1);
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned* flags, int* active) {
  Driver& driver = TheDriver();
  if (device < 0 || device >= driver.device_count) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(driver.mutex);
  *flags = 0;
  *active = driver.primary_references[device] > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxGetDevice(CUdevice* device) {
  *device = t_device;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxSynchronize() {
  WaitUntil(TheDriver().devices[t_device].busy_until_ns.load());
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamSynchronize(CUstream) { return cuCtxSynchronize(); }
FAKE_EXPORT CUresult cuThreadExchangeStreamCaptureMode(int* mode) {
  Count("cuThreadExchangeStreamCaptureMode");
  thread_local int current = 0;
  std::swap(current, *mode);
  return CUDA_SUCCESS;
}
// FAKE_CUDA_CAPTURING=1 pretends every stream is being captured into a graph.
FAKE_EXPORT CUresult cuStreamIsCapturing(CUstream, int* status) {
  const char* capturing = std::getenv("FAKE_CUDA_CAPTURING");
  *status = capturing != nullptr && capturing[0] == '1' ? 1 : 0;
  return CUDA_SUCCESS;
}

// Modules hold two kernels for bench/gpu/isolation_probe dry runs: "spin" (2 ms) and "empty" (5
// us).
FAKE_EXPORT CUresult cuModuleLoadData(void** module, const void*) {
  *module = reinterpret_cast<void*>(std::uintptr_t{1});
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuModuleGetFunction(CUfunction* function, void*, const char* name) {
  *function =
      reinterpret_cast<CUfunction>(std::uintptr_t{std::strcmp(name, "spin") == 0 ? 2000u : 5u});
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, std::size_t bytes) {
  return FakeAlloc("cuMemAlloc_v2", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemAlloc(CUdeviceptr_v1* dptr, unsigned bytes) {
  std::uint64_t key = 0;
  CUresult result = FakeAlloc("cuMemAlloc", &key, bytes, t_device);
  *dptr = static_cast<CUdeviceptr_v1>(key & 0xFFFFFFFFu);
  return result;
}
FAKE_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, std::size_t* pitch, std::size_t width,
                                        std::size_t height, unsigned) {
  // FAKE_CUDA_PITCH_ALIGN (default 512): the row alignment this "device" pads pitches to.
  static const std::size_t align = [] {
    const char* text = std::getenv("FAKE_CUDA_PITCH_ALIGN");
    return text != nullptr ? std::strtoull(text, nullptr, 10) : 512ULL;
  }();
  *pitch = (width + align - 1) / align * align;
  return FakeAlloc("cuMemAllocPitch_v2", dptr, *pitch * height, t_device);
}
FAKE_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, std::size_t bytes, unsigned) {
  return FakeAlloc("cuMemAllocManaged", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* dptr, std::size_t bytes, CUstream) {
  return FakeAlloc("cuMemAllocAsync", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, std::size_t bytes, CUstream) {
  return FakeAlloc("cuMemAllocAsync_ptsz", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, std::size_t bytes, CUmemoryPool,
                                             CUstream) {
  return FakeAlloc("cuMemAllocFromPoolAsync", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, std::size_t bytes,
                                                  CUmemoryPool, CUstream) {
  return FakeAlloc("cuMemAllocFromPoolAsync_ptsz", dptr, bytes, t_device);
}
FAKE_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, std::size_t size,
                                 const CUmemAllocationProp* prop, unsigned long long) {
  CUresult result = FakeAlloc("cuMemCreate", handle, size, prop->location.id);
  if (result == CUDA_SUCCESS) {
    Driver& driver = TheDriver();
    std::lock_guard lock(driver.mutex);
    driver.handles[*handle] = {};
    driver.context_of.erase(*handle);
  }
  return result;
}
// Maps [ptr, ptr + size) to bytes [offset, offset + size) of a live handle; refuses unknown or
// released handles, ranges past the handle's end and addresses already mapped.
FAKE_EXPORT CUresult cuMemMap(CUdeviceptr ptr, std::size_t size, std::size_t offset,
                              CUmemGenericAllocationHandle handle, unsigned long long flags) {
  Count("cuMemMap");
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  auto found = driver.handles.find(handle);
  auto allocation = driver.allocations.find(handle);
  if (ptr == 0 || size == 0 || flags != 0 || found == driver.handles.end() ||
      allocation == driver.allocations.end() || found->second.references == 0 ||
      offset > allocation->second.second || size > allocation->second.second - offset) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto next = driver.mappings.lower_bound(ptr);
  if (next != driver.mappings.end() && next->first < ptr + size) return CUDA_ERROR_INVALID_VALUE;
  if (next != driver.mappings.begin() &&
      std::prev(next)->first + std::prev(next)->second.first > ptr)
    return CUDA_ERROR_INVALID_VALUE;
  driver.mappings[ptr] = {size, handle};
  ++found->second.mappings;
  return CUDA_SUCCESS;
}
static void FreeHandleLocked(Driver& driver, std::uint64_t handle) {
  driver.handles.erase(handle);
  auto allocation = driver.allocations.find(handle);
  if (allocation == driver.allocations.end()) return;
  driver.devices[allocation->second.first].used.fetch_sub(allocation->second.second);
  driver.allocations.erase(allocation);
}
// Unmaps every mapping that starts inside [ptr, ptr + size); an error if there is none.
FAKE_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, std::size_t size) {
  Count("cuMemUnmap");
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  auto it = driver.mappings.lower_bound(ptr);
  if (size == 0 || it == driver.mappings.end() || it->first - ptr >= size)
    return CUDA_ERROR_INVALID_VALUE;
  while (it != driver.mappings.end() && it->first - ptr < size) {
    std::uint64_t handle = it->second.second;
    Driver::Handle& state = driver.handles[handle];
    if (--state.mappings == 0 && state.references == 0) FreeHandleLocked(driver, handle);
    it = driver.mappings.erase(it);
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuArrayCreate_v2(CUarray* array, const CUDA_ARRAY_DESCRIPTOR* desc) {
  std::uint64_t key = 0;
  CUresult result = FakeAlloc("cuArrayCreate_v2", &key, ArrayBytes(*desc, 1), t_device);
  *array = reinterpret_cast<CUarray>(key);
  return result;
}
FAKE_EXPORT CUresult cuArray3DCreate_v2(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  std::uint64_t key = 0;
  CUresult result = FakeAlloc("cuArray3DCreate_v2", &key, ArrayBytes(*desc, desc->Depth), t_device);
  *array = reinterpret_cast<CUarray>(key);
  return result;
}
FAKE_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray* array,
                                            const CUDA_ARRAY3D_DESCRIPTOR* desc, unsigned levels) {
  std::uint64_t key = 0;
  CUresult result =
      FakeAlloc("cuMipmappedArrayCreate", &key, ArrayBytes(*desc, desc->Depth) * 2, t_device);
  *array = reinterpret_cast<CUmipmappedArray>(key);
  (void)levels;
  return result;
}
FAKE_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) { return FakeFree("cuMemFree_v2", dptr); }
FAKE_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream) {
  return FakeFree("cuMemFreeAsync", dptr);
}
FAKE_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream) {
  return FakeFree("cuMemFreeAsync_ptsz", dptr);
}
FAKE_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  Count("cuMemRelease");
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  auto found = driver.handles.find(handle);
  if (found == driver.handles.end() || found->second.references == 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (--found->second.references == 0 && found->second.mappings == 0)
    FreeHandleLocked(driver, handle);
  return CUDA_SUCCESS;
}
// The handle mapped at `addr` (anywhere inside a mapping), with one more reference to release.
FAKE_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  Count("cuMemRetainAllocationHandle");
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  auto address = reinterpret_cast<std::uint64_t>(addr);
  auto next = driver.mappings.upper_bound(address);
  if (handle == nullptr || next == driver.mappings.begin()) return CUDA_ERROR_INVALID_VALUE;
  auto mapping = std::prev(next);
  if (address - mapping->first >= mapping->second.first) return CUDA_ERROR_INVALID_VALUE;
  *handle = mapping->second.second;
  ++driver.handles[*handle].references;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuArrayDestroy(CUarray array) {
  return FakeFree("cuArrayDestroy", reinterpret_cast<std::uint64_t>(array));
}
FAKE_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray array) {
  return FakeFree("cuMipmappedArrayDestroy", reinterpret_cast<std::uint64_t>(array));
}
FAKE_EXPORT CUresult cuMemGetInfo_v2(std::size_t* free_bytes, std::size_t* total_bytes) {
  Count("cuMemGetInfo_v2");
  Driver& driver = TheDriver();
  *total_bytes = driver.capacity;
  *free_bytes = driver.capacity - driver.devices[t_device].used.load();
  return CUDA_SUCCESS;
}
// A future ABI of cuMemGetInfo, returned for look-ups at version 99000 and above: the hook must
// pass it through rather than call it through its _v2 wrapper.
FAKE_EXPORT CUresult cuMemGetInfo_v3(std::size_t* free_bytes, std::size_t* total_bytes) {
  Count("cuMemGetInfo_v3");
  return cuMemGetInfo_v2(free_bytes, total_bytes);
}
FAKE_EXPORT CUresult cuDeviceTotalMem_v2(std::size_t* bytes, CUdevice) {
  Count("cuDeviceTotalMem_v2");
  *bytes = TheDriver().capacity;
  return CUDA_SUCCESS;
}

// With FAKE_CUDA_GRID_SCALES=1 a cuLaunchKernel kernel runs once per block of its grid (its
// CUfunction's microseconds times gx*gy*gz), as work of one kernel over grids of several sizes.
FAKE_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned,
                                    unsigned, unsigned, unsigned, CUstream, void**, void**) {
  static const bool grid_scales = std::getenv("FAKE_CUDA_GRID_SCALES") != nullptr;
  std::uint64_t blocks = grid_scales ? std::uint64_t{gx} * gy * gz : 1;
  return FakeLaunch("cuLaunchKernel", reinterpret_cast<std::uintptr_t>(f) * blocks);
}
FAKE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned, unsigned, unsigned, unsigned,
                                         unsigned, unsigned, unsigned, CUstream, void**, void**) {
  return FakeLaunch("cuLaunchKernel_ptsz", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig*, CUfunction f, void**, void**) {
  return FakeLaunch("cuLaunchKernelEx", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned, unsigned, unsigned, unsigned,
                                               unsigned, unsigned, unsigned, CUstream, void**) {
  return FakeLaunch("cuLaunchCooperativeKernel", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig*, CUfunction f, void**, void**) {
  return FakeLaunch("cuLaunchKernelEx_ptsz", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned, unsigned, unsigned,
                                                    unsigned, unsigned, unsigned, unsigned,
                                                    CUstream, void**) {
  return FakeLaunch("cuLaunchCooperativeKernel_ptsz", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream) {
  return FakeLaunch("cuGraphLaunch", reinterpret_cast<std::uintptr_t>(exec));
}
FAKE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream) {
  return FakeLaunch("cuGraphLaunch_ptsz", reinterpret_cast<std::uintptr_t>(exec));
}
// The pre-4.0 launch API; a grid of 0 blocks is an error, as in the driver.
FAKE_EXPORT CUresult cuLaunch(CUfunction f) {
  return FakeLaunch("cuLaunch", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchGrid(CUfunction f, int width, int height) {
  if (width <= 0 || height <= 0) return CUDA_ERROR_INVALID_VALUE;
  return FakeLaunch("cuLaunchGrid", reinterpret_cast<std::uintptr_t>(f));
}
FAKE_EXPORT CUresult cuLaunchGridAsync(CUfunction f, int width, int height, CUstream) {
  if (width <= 0 || height <= 0) return CUDA_ERROR_INVALID_VALUE;
  return FakeLaunch("cuLaunchGridAsync", reinterpret_cast<std::uintptr_t>(f));
}

FAKE_EXPORT CUresult cuEventCreate(CUevent* event, unsigned) {
  static std::atomic<std::uint64_t> next{1};
  Driver& driver = TheDriver();
  std::uint64_t id = next.fetch_add(1);
  std::lock_guard lock(driver.mutex);
  driver.events[id] = 0;
  *event = reinterpret_cast<CUevent>(id);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventRecord(CUevent event, CUstream) {
  Count("cuEventRecord");
  Driver& driver = TheDriver();
  std::int64_t at = std::max(driver.devices[t_device].busy_until_ns.load(), NowNs());
  std::lock_guard lock(driver.mutex);
  driver.events[reinterpret_cast<std::uint64_t>(event)] = at;
  return CUDA_SUCCESS;
}
static std::int64_t EventTime(CUevent event) {
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  return driver.events[reinterpret_cast<std::uint64_t>(event)];
}
FAKE_EXPORT CUresult cuEventQuery(CUevent event) {
  return NowNs() >= EventTime(event) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
FAKE_EXPORT CUresult cuEventSynchronize(CUevent event) {
  WaitUntil(EventTime(event));
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end) {
  *milliseconds = static_cast<float>(EventTime(end) - EventTime(start)) / 1e6f;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuEventDestroy_v2(CUevent event) {
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  driver.events.erase(reinterpret_cast<std::uint64_t>(event));
  return CUDA_SUCCESS;
}

// Test-only introspection.
FAKE_EXPORT std::uint64_t fakeCudaPeakBytes(int device) {
  return TheDriver().devices[device].peak.load();
}
FAKE_EXPORT std::uint64_t fakeCudaUsedBytes(int device) {
  return TheDriver().devices[device].used.load();
}
FAKE_EXPORT int fakeCudaCalls(const char* symbol) {
  Driver& driver = TheDriver();
  std::lock_guard lock(driver.mutex);
  return driver.calls[symbol];
}

FAKE_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version,
                                         std::uint64_t flags, int* status);
FAKE_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version,
                                      std::uint64_t flags);

namespace {

// What the real driver does: a name + version + stream flavour picks one exported ABI.
struct ProcEntry {
  const char* name;
  int since;
  bool per_thread_stream;
  void* function;
};

#define FAKE_PROC(name, since, ptsz, fn) \
  ProcEntry { name, since, ptsz, reinterpret_cast<void*>(&fn) }
const ProcEntry kProcs[] = {
    FAKE_PROC("cuInit", 2000, false, cuInit),
    FAKE_PROC("cuDriverGetVersion", 2020, false, cuDriverGetVersion),
    FAKE_PROC("cuDeviceGet", 2000, false, cuDeviceGet),
    FAKE_PROC("cuDevicePrimaryCtxRetain", 7000, false, cuDevicePrimaryCtxRetain),
    FAKE_PROC("cuCtxSetCurrent", 4000, false, cuCtxSetCurrent),
    FAKE_PROC("cuCtxGetCurrent", 4000, false, cuCtxGetCurrent),
    FAKE_PROC("cuCtxCreate", 3020, false, cuCtxCreate_v2),
    FAKE_PROC("cuCtxDestroy", 4000, false, cuCtxDestroy_v2),
    FAKE_PROC("cuDevicePrimaryCtxReset", 11000, false, cuDevicePrimaryCtxReset_v2),
    FAKE_PROC("cuDevicePrimaryCtxRelease", 11000, false, cuDevicePrimaryCtxRelease_v2),
    FAKE_PROC("cuDevicePrimaryCtxGetState", 7000, false, cuDevicePrimaryCtxGetState),
    FAKE_PROC("cuDeviceGetUuid", 11040, false, cuDeviceGetUuid_v2),
    FAKE_PROC("cuCtxSynchronize", 2000, false, cuCtxSynchronize),
    FAKE_PROC("cuModuleLoadData", 2000, false, cuModuleLoadData),
    FAKE_PROC("cuModuleGetFunction", 2000, false, cuModuleGetFunction),
    FAKE_PROC("cuMemAlloc", 2000, false, cuMemAlloc),
    FAKE_PROC("cuMemAlloc", 3020, false, cuMemAlloc_v2),
    FAKE_PROC("cuMemAllocPitch", 3020, false, cuMemAllocPitch_v2),
    FAKE_PROC("cuMemAllocManaged", 6000, false, cuMemAllocManaged),
    FAKE_PROC("cuMemAllocAsync", 11020, false, cuMemAllocAsync),
    FAKE_PROC("cuMemAllocAsync", 11020, true, cuMemAllocAsync_ptsz),
    FAKE_PROC("cuMemAllocFromPoolAsync", 11020, false, cuMemAllocFromPoolAsync),
    FAKE_PROC("cuMemAllocFromPoolAsync", 11020, true, cuMemAllocFromPoolAsync_ptsz),
    FAKE_PROC("cuMemCreate", 10020, false, cuMemCreate),
    FAKE_PROC("cuArrayCreate", 3020, false, cuArrayCreate_v2),
    FAKE_PROC("cuArray3DCreate", 3020, false, cuArray3DCreate_v2),
    FAKE_PROC("cuMipmappedArrayCreate", 5000, false, cuMipmappedArrayCreate),
    FAKE_PROC("cuMemFree", 3020, false, cuMemFree_v2),
    FAKE_PROC("cuMemFreeAsync", 11020, false, cuMemFreeAsync),
    FAKE_PROC("cuMemFreeAsync", 11020, true, cuMemFreeAsync_ptsz),
    FAKE_PROC("cuMemRelease", 10020, false, cuMemRelease),
    FAKE_PROC("cuMemMap", 10020, false, cuMemMap),
    FAKE_PROC("cuMemRetainAllocationHandle", 11000, false, cuMemRetainAllocationHandle),
    FAKE_PROC("cuMemUnmap", 10020, false, cuMemUnmap),
    FAKE_PROC("cuArrayDestroy", 2000, false, cuArrayDestroy),
    FAKE_PROC("cuMipmappedArrayDestroy", 5000, false, cuMipmappedArrayDestroy),
    FAKE_PROC("cuMemGetInfo", 3020, false, cuMemGetInfo_v2),
    FAKE_PROC("cuMemGetInfo", 99000, false, cuMemGetInfo_v3),
    FAKE_PROC("cuDeviceTotalMem", 3020, false, cuDeviceTotalMem_v2),
    FAKE_PROC("cuLaunchKernel", 4000, false, cuLaunchKernel),
    FAKE_PROC("cuLaunchKernel", 7000, true, cuLaunchKernel_ptsz),
    FAKE_PROC("cuLaunchKernelEx", 11060, false, cuLaunchKernelEx),
    FAKE_PROC("cuLaunchKernelEx", 11060, true, cuLaunchKernelEx_ptsz),
    FAKE_PROC("cuLaunchCooperativeKernel", 9000, false, cuLaunchCooperativeKernel),
    FAKE_PROC("cuLaunchCooperativeKernel", 9000, true, cuLaunchCooperativeKernel_ptsz),
    FAKE_PROC("cuGraphLaunch", 10000, false, cuGraphLaunch),
    FAKE_PROC("cuGraphLaunch", 10000, true, cuGraphLaunch_ptsz),
    FAKE_PROC("cuLaunch", 2000, false, cuLaunch),
    FAKE_PROC("cuLaunchGrid", 2000, false, cuLaunchGrid),
    FAKE_PROC("cuLaunchGridAsync", 2000, false, cuLaunchGridAsync),
    FAKE_PROC("cuGetProcAddress", 11030, false, cuGetProcAddress),
    FAKE_PROC("cuGetProcAddress", 12000, false, cuGetProcAddress_v2),
};
#undef FAKE_PROC

}  // namespace

FAKE_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version,
                                         std::uint64_t flags, int* status) {
  Count("cuGetProcAddress_v2");
  if (std::getenv("FAKE_CUDA_TRACE") != nullptr) {  // FAKE_CUDA_TRACE=1: log every look-up
    std::fprintf(stderr, "fake cuGetProcAddress(%s, %d, %llu)\n", symbol, version,
                 static_cast<unsigned long long>(flags));
  }
  bool ptsz = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const ProcEntry* best = nullptr;
  for (const ProcEntry& entry : kProcs) {
    if (std::strcmp(entry.name, symbol) != 0 || entry.since > version) continue;
    bool flavour_ok = entry.per_thread_stream == ptsz;
    bool best_flavour_ok = best != nullptr && best->per_thread_stream == ptsz;
    if (best == nullptr || (flavour_ok && !best_flavour_ok) ||
        (flavour_ok == best_flavour_ok && entry.since >= best->since)) {
      best = &entry;
    }
  }
  if (status != nullptr) *status = best == nullptr ? 1 : 0;
  if (best == nullptr) {
    *pfn = nullptr;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = best->function;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int version,
                                      std::uint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, version, flags, nullptr);
}
