// A CUDA "application" for the hook tests: it loads libcuda.so.1 the way real programs do and
// runs the commands given on its command line, printing one result line per command.
//   hook_probe --lookup=dlsym|getproc|global [--ptsz] COMMAND...
// dlsym: dlsym(libcuda handle, "cuX_v2") like PyTorch; getproc: dlsym of cuGetProcAddress_v2,
// then cuGetProcAddress("cuGetProcAddress") and look-ups through it, like the CUDA runtime;
// global: dlsym(RTLD_DEFAULT, ...) like a program linked with -lcuda.
// The "nvml" command queries NVML device 0's memory (v1 and v2): through dlopen of
// libnvidia-ml.so.1 and dlsym like pynvml, or, in hook_probe_nvml_linked (built with
// FLEXAI_PROBE_LINKS_NVML), by direct calls into the linked libnvidia-ml.so.1 like nvidia-smi.
#include <dlfcn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "isolation/hook/cuda_types.h"
#include "isolation/hook/nvml_types.h"

using namespace flexai::cuda;  // NOLINT
using flexai::nvml::nvmlDevice_t;
using flexai::nvml::nvmlMemory_t;
using flexai::nvml::nvmlMemory_v2_t;
using flexai::nvml::nvmlReturn_t;

#ifdef FLEXAI_PROBE_LINKS_NVML
extern "C" {
nvmlReturn_t nvmlInit_v2();
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory);
}
#endif

namespace {

constexpr std::uint64_t kMiB = 1 << 20;
int g_cuda_version = 13000;  // --cuda-version=N: the version look-ups ask for

struct Api {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuCtxCreate)(CUcontext*, unsigned, CUdevice);
  CUresult (*cuCtxDestroy)(CUcontext);
  CUresult (*cuDevicePrimaryCtxReset)(CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuMemAlloc)(CUdeviceptr*, std::size_t);
  CUresult (*cuMemAllocPitch)(CUdeviceptr*, std::size_t*, std::size_t, std::size_t, unsigned);
  CUresult (*cuMemAllocManaged)(CUdeviceptr*, std::size_t, unsigned);
  CUresult (*cuMemAllocAsync)(CUdeviceptr*, std::size_t, CUstream);
  CUresult (*cuMemAllocFromPoolAsync)(CUdeviceptr*, std::size_t, CUmemoryPool, CUstream);
  CUresult (*cuMemCreate)(CUmemGenericAllocationHandle*, std::size_t, const CUmemAllocationProp*,
                          unsigned long long);
  CUresult (*cuArrayCreate)(CUarray*, const CUDA_ARRAY_DESCRIPTOR*);
  CUresult (*cuArray3DCreate)(CUarray*, const CUDA_ARRAY3D_DESCRIPTOR*);
  CUresult (*cuMipmappedArrayCreate)(CUmipmappedArray*, const CUDA_ARRAY3D_DESCRIPTOR*, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemRelease)(CUmemGenericAllocationHandle);
  CUresult (*cuMemMap)(CUdeviceptr, std::size_t, std::size_t, CUmemGenericAllocationHandle,
                       unsigned long long);
  CUresult (*cuMemUnmap)(CUdeviceptr, std::size_t);
  CUresult (*cuMemRetainAllocationHandle)(CUmemGenericAllocationHandle*, void*);
  CUresult (*cuArrayDestroy)(CUarray);
  CUresult (*cuMipmappedArrayDestroy)(CUmipmappedArray);
  CUresult (*cuMemGetInfo)(std::size_t*, std::size_t*);
  CUresult (*cuDeviceTotalMem)(std::size_t*, CUdevice);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig*, CUfunction, void**, void**);
  CUresult (*cuLaunchCooperativeKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                                        unsigned, unsigned, unsigned, CUstream, void**);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuLaunch)(CUfunction);
  CUresult (*cuLaunchGrid)(CUfunction, int, int);
  CUresult (*cuLaunchGridAsync)(CUfunction, int, int, CUstream);
  std::uint64_t (*fakeCudaPeakBytes)(int);
  std::uint64_t (*fakeCudaUsedBytes)(int);
  int (*fakeCudaCalls)(const char*);
};

Api g_api{};
int g_device = 0;
// getproc look-ups: the cuGetProcAddress the bootstrap returned (the v1 ABI below 12000, as the
// runtime uses it) and the flags every look-up passes.
void* g_get_proc = nullptr;
std::uint64_t g_lookup_flags = 0;

// A look-up through g_get_proc (the ABI of g_cuda_version) asking for `version`.
void* LookUp(const char* name, int version) {
  void* found = nullptr;
  if (g_cuda_version < 12000) {
    reinterpret_cast<CUresult (*)(const char*, void**, int, std::uint64_t)>(g_get_proc)(
        name, &found, version, g_lookup_flags);
  } else {
    reinterpret_cast<CUresult (*)(const char*, void**, int, std::uint64_t, int*)>(g_get_proc)(
        name, &found, version, g_lookup_flags, nullptr);
  }
  return found;
}
void* LookUp(const char* name) { return LookUp(name, g_cuda_version); }

template <typename F>
void Load(F& field, void* handle, const std::string& lookup, bool ptsz, const char* base,
          const char* versioned) {
  using GetProc = CUresult(const char*, void**, int, std::uint64_t, int*);
  void* found = nullptr;
  if (lookup == "getproc") {
    if (g_get_proc == nullptr) {
      auto* bootstrap = reinterpret_cast<GetProc*>(dlsym(handle, "cuGetProcAddress_v2"));
      bootstrap("cuGetProcAddress", &g_get_proc, g_cuda_version, 0, nullptr);
      g_lookup_flags = ptsz ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM : 0;
    }
    if (g_get_proc != nullptr) found = LookUp(base);
  } else {
    found = dlsym(lookup == "global" ? RTLD_DEFAULT : handle, versioned);
  }
  field = reinterpret_cast<F>(found);
}

void LoadApi(const std::string& lookup, bool ptsz) {
  void* handle = dlopen("libcuda.so.1", lookup == "global" ? RTLD_NOW | RTLD_GLOBAL : RTLD_NOW);
  if (handle == nullptr) {
    std::printf("error dlopen %s\n", dlerror());
    std::exit(2);
  }
  const char* s = ptsz ? "_ptsz" : "";
  auto stream_name = [&](const char* base) { return std::string(base) + s; };
#define LOAD(field, versioned) Load(g_api.field, handle, lookup, ptsz, #field, versioned)
  LOAD(cuInit, "cuInit");
  LOAD(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  LOAD(cuCtxSetCurrent, "cuCtxSetCurrent");
  LOAD(cuCtxSynchronize, "cuCtxSynchronize");
  LOAD(cuCtxCreate, "cuCtxCreate_v2");
  LOAD(cuCtxDestroy, "cuCtxDestroy_v2");
  LOAD(cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset_v2");
  LOAD(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  LOAD(cuMemAlloc, "cuMemAlloc_v2");
  LOAD(cuMemAllocPitch, "cuMemAllocPitch_v2");
  LOAD(cuMemAllocManaged, "cuMemAllocManaged");
  LOAD(cuMemAllocAsync, stream_name("cuMemAllocAsync").c_str());
  LOAD(cuMemAllocFromPoolAsync, stream_name("cuMemAllocFromPoolAsync").c_str());
  LOAD(cuMemCreate, "cuMemCreate");
  LOAD(cuArrayCreate, "cuArrayCreate_v2");
  LOAD(cuArray3DCreate, "cuArray3DCreate_v2");
  LOAD(cuMipmappedArrayCreate, "cuMipmappedArrayCreate");
  LOAD(cuMemFree, "cuMemFree_v2");
  LOAD(cuMemFreeAsync, stream_name("cuMemFreeAsync").c_str());
  LOAD(cuMemRelease, "cuMemRelease");
  LOAD(cuMemMap, "cuMemMap");
  LOAD(cuMemUnmap, "cuMemUnmap");
  LOAD(cuMemRetainAllocationHandle, "cuMemRetainAllocationHandle");
  LOAD(cuArrayDestroy, "cuArrayDestroy");
  LOAD(cuMipmappedArrayDestroy, "cuMipmappedArrayDestroy");
  LOAD(cuMemGetInfo, "cuMemGetInfo_v2");
  LOAD(cuDeviceTotalMem, "cuDeviceTotalMem_v2");
  LOAD(cuLaunchKernel, stream_name("cuLaunchKernel").c_str());
  LOAD(cuLaunchKernelEx, stream_name("cuLaunchKernelEx").c_str());
  LOAD(cuLaunchCooperativeKernel, stream_name("cuLaunchCooperativeKernel").c_str());
  LOAD(cuGraphLaunch, stream_name("cuGraphLaunch").c_str());
  LOAD(cuLaunch, "cuLaunch");
  LOAD(cuLaunchGrid, "cuLaunchGrid");
  LOAD(cuLaunchGridAsync, "cuLaunchGridAsync");
#undef LOAD
  g_api.fakeCudaPeakBytes =
      reinterpret_cast<std::uint64_t (*)(int)>(dlsym(handle, "fakeCudaPeakBytes"));
  g_api.fakeCudaUsedBytes =
      reinterpret_cast<std::uint64_t (*)(int)>(dlsym(handle, "fakeCudaUsedBytes"));
  g_api.fakeCudaCalls = reinterpret_cast<int (*)(const char*)>(dlsym(handle, "fakeCudaCalls"));
}

struct NvmlApi {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*memory_v2)(nvmlDevice_t, nvmlMemory_v2_t*);
};

NvmlApi LoadNvml() {
#ifdef FLEXAI_PROBE_LINKS_NVML
  return {&nvmlInit_v2, &nvmlDeviceGetHandleByIndex_v2, &nvmlDeviceGetMemoryInfo,
          &nvmlDeviceGetMemoryInfo_v2};
#else
  void* handle = dlopen("libnvidia-ml.so.1", RTLD_NOW);  // RTLD_LOCAL, as Python's ctypes
  if (handle == nullptr) return {};
  NvmlApi api{};
  api.init = reinterpret_cast<decltype(api.init)>(dlsym(handle, "nvmlInit_v2"));
  api.handle_by_index = reinterpret_cast<decltype(api.handle_by_index)>(
      dlsym(handle, "nvmlDeviceGetHandleByIndex_v2"));
  api.memory = reinterpret_cast<decltype(api.memory)>(dlsym(handle, "nvmlDeviceGetMemoryInfo"));
  api.memory_v2 =
      reinterpret_cast<decltype(api.memory_v2)>(dlsym(handle, "nvmlDeviceGetMemoryInfo_v2"));
  return api;
#endif
}

// "nvml v1 ok total=T free=F used=U" and "nvml v2 ok total=T reserved=R free=F used=U" (MiB) for
// NVML device 0, or "nvml error ..." / "nvml v1 errN".
void PrintNvmlMemory(const char* prefix) {
  static NvmlApi api = LoadNvml();
  nvmlDevice_t device = nullptr;
  if (api.init == nullptr || api.handle_by_index == nullptr || api.memory == nullptr ||
      api.memory_v2 == nullptr) {
    std::printf("%snvml error cannot load libnvidia-ml.so.1\n", prefix);
    return;
  }
  if (nvmlReturn_t rc = api.init(); rc != 0) {
    std::printf("%snvml error init %d\n", prefix, rc);
    return;
  }
  if (nvmlReturn_t rc = api.handle_by_index(0, &device); rc != 0) {
    std::printf("%snvml error handle %d\n", prefix, rc);
    return;
  }
  auto mib = [](unsigned long long bytes) { return bytes / kMiB; };
  nvmlMemory_t v1{};
  if (nvmlReturn_t rc = api.memory(device, &v1); rc != 0) {
    std::printf("%snvml v1 err%d\n", prefix, rc);
  } else {
    std::printf("%snvml v1 ok total=%llu free=%llu used=%llu\n", prefix, mib(v1.total),
                mib(v1.free), mib(v1.used));
  }
  nvmlMemory_v2_t v2{};
  v2.version = flexai::nvml::nvmlMemory_v2;
  if (nvmlReturn_t rc = api.memory_v2(device, &v2); rc != 0) {
    std::printf("%snvml v2 err%d\n", prefix, rc);
  } else {
    std::printf("%snvml v2 ok total=%llu reserved=%llu free=%llu used=%llu\n", prefix,
                mib(v2.total), mib(v2.reserved), mib(v2.free), mib(v2.used));
  }
}

CUcontext g_primary = nullptr;              // of g_device
std::vector<CUcontext> g_created_contexts;  // by ctx-create, newest last

void UseDevice(int device) {
  CUcontext context = nullptr;
  g_api.cuDevicePrimaryCtxRetain(&context, device);
  g_api.cuCtxSetCurrent(context);
  g_device = device;
  g_primary = context;
}

enum class Kind { kPointer, kAsync, kHandle, kArray, kMipmap };
struct Held {
  Kind kind;
  std::uint64_t key;
  std::uint64_t bytes = 0;  // handles: their size, for mapping
};
std::vector<Held> g_held;
Held g_last_freed{Kind::kPointer, 0};  // for free-again
struct Mapped {
  CUdeviceptr address;
  std::size_t size;
};
std::vector<Mapped> g_mapped;
CUdeviceptr g_next_address = 0x200000000000ULL;  // virtual addresses handed to cuMemMap

const char* Outcome(CUresult result) {
  static char text[32];
  if (result == CUDA_SUCCESS) return "ok";
  if (result == CUDA_ERROR_OUT_OF_MEMORY) return "oom";
  std::snprintf(text, sizeof(text), "err%d", result);
  return text;
}

CUresult Keep(CUresult result, Kind kind, std::uint64_t key, std::uint64_t bytes = 0) {
  if (result == CUDA_SUCCESS) g_held.push_back({kind, key, bytes});
  return result;
}

// The newest held VMM handle, or null.
const Held* NewestHandle() {
  for (auto it = g_held.rbegin(); it != g_held.rend(); ++it) {
    if (it->kind == Kind::kHandle) return &*it;
  }
  return nullptr;
}

// "<library file> <symbol>" of a function pointer, e.g. "libflexai-cuda.so cuMemMap".
std::string Owner(void* function) {
  Dl_info info{};
  if (function == nullptr || dladdr(function, &info) == 0 || info.dli_fname == nullptr)
    return "none";
  std::string file = info.dli_fname;
  file = file.substr(file.rfind('/') + 1);
  return file + " " + (info.dli_sname != nullptr ? info.dli_sname : "?");
}

CUresult FreeHeld(const Held& held) {
  switch (held.kind) {
    case Kind::kPointer:
      return g_api.cuMemFree(held.key);
    case Kind::kAsync:
      return g_api.cuMemFreeAsync(held.key, nullptr);
    case Kind::kHandle:
      return g_api.cuMemRelease(held.key);
    case Kind::kArray:
      return g_api.cuArrayDestroy(reinterpret_cast<CUarray>(held.key));
    case Kind::kMipmap:
      return g_api.cuMipmappedArrayDestroy(reinterpret_cast<CUmipmappedArray>(held.key));
  }
  return CUDA_ERROR_INVALID_VALUE;
}

std::uint64_t Arg(char** argv, int& i) { return std::strtoull(argv[++i], nullptr, 10); }

// Runs commands from argv[i] up to "end" (or the end); returns the index after them.
int Run(int argc, char** argv, int i, const char* prefix) {
  for (; i < argc; ++i) {
    std::string command = argv[i];
    CUdeviceptr pointer = 0;
    if (command == "end") return i + 1;
    if (command == "device") {
      UseDevice(static_cast<int>(Arg(argv, i)));
      continue;
    }
    if (command == "alloc") {
      CUresult r = g_api.cuMemAlloc(&pointer, Arg(argv, i) * kMiB);
      std::printf("%salloc %s\n", prefix, Outcome(Keep(r, Kind::kPointer, pointer)));
    } else if (command == "managed") {
      CUresult r = g_api.cuMemAllocManaged(&pointer, Arg(argv, i) * kMiB, 1);
      std::printf("%smanaged %s\n", prefix, Outcome(Keep(r, Kind::kPointer, pointer)));
    } else if (command == "async") {
      CUresult r = g_api.cuMemAllocAsync(&pointer, Arg(argv, i) * kMiB, nullptr);
      std::printf("%sasync %s\n", prefix, Outcome(Keep(r, Kind::kAsync, pointer)));
    } else if (command == "pool") {
      CUresult r = g_api.cuMemAllocFromPoolAsync(&pointer, Arg(argv, i) * kMiB, nullptr, nullptr);
      std::printf("%spool %s\n", prefix, Outcome(Keep(r, Kind::kAsync, pointer)));
    } else if (command == "pitch") {  // pitch WIDTH_BYTES HEIGHT
      std::size_t pitch = 0;
      std::size_t width = Arg(argv, i);
      std::size_t height = Arg(argv, i);
      CUresult r = g_api.cuMemAllocPitch(&pointer, &pitch, width, height, 4);
      std::printf("%spitch %s\n", prefix, Outcome(Keep(r, Kind::kPointer, pointer)));
    } else if (command == "create") {
      CUmemAllocationProp prop{};
      prop.type = 1;
      prop.location.type = 1;
      prop.location.id = g_device;
      CUmemGenericAllocationHandle handle = 0;
      std::uint64_t bytes = Arg(argv, i) * kMiB;
      CUresult r = g_api.cuMemCreate(&handle, bytes, &prop, 0);
      std::printf("%screate %s\n", prefix, Outcome(Keep(r, Kind::kHandle, handle, bytes)));
    } else if (command == "map" || command == "map-bad") {
      // map: maps the newest held handle whole at a fresh address; map-bad asks for 1 MiB past
      // its end, which the driver refuses.
      const Held* held = NewestHandle();
      std::size_t size = held == nullptr ? 0 : held->bytes + (command == "map-bad" ? kMiB : 0);
      CUresult r = held == nullptr ? CUDA_ERROR_INVALID_VALUE
                                   : g_api.cuMemMap(g_next_address, size, 0, held->key, 0);
      if (r == CUDA_SUCCESS) {
        g_mapped.push_back({g_next_address, size});
        g_next_address += (size + kMiB) & ~(kMiB - 1);
      }
      std::printf("%s%s %s\n", prefix, command.c_str(), Outcome(r));
    } else if (command == "retain") {
      // retain: cuMemRetainAllocationHandle on the middle of the newest mapping; the handle it
      // returns is held (a later "free" releases that reference).
      CUmemGenericAllocationHandle handle = 0;
      CUresult r = CUDA_ERROR_INVALID_VALUE;
      if (!g_mapped.empty()) {
        auto* middle = reinterpret_cast<void*>(g_mapped.back().address + g_mapped.back().size / 2);
        r = g_api.cuMemRetainAllocationHandle(&handle, middle);
      }
      const Held* held = NewestHandle();
      std::printf("%sretain %s\n", prefix,
                  Outcome(Keep(r, Kind::kHandle, handle, held == nullptr ? 0 : held->bytes)));
    } else if (command == "unmap") {  // unmaps the newest mapping
      CUresult r = g_mapped.empty()
                       ? CUDA_ERROR_INVALID_VALUE
                       : g_api.cuMemUnmap(g_mapped.back().address, g_mapped.back().size);
      if (r == CUDA_SUCCESS) g_mapped.pop_back();
      std::printf("%sunmap %s\n", prefix, Outcome(r));
    } else if (command == "used") {  // what the fake driver holds on this device, in MiB
      std::printf("%sused %llu\n", prefix,
                  static_cast<unsigned long long>(g_api.fakeCudaUsedBytes(g_device) / kMiB));
    } else if (command == "array") {  // array MiB: a float array of that size
      CUDA_ARRAY_DESCRIPTOR desc{Arg(argv, i) * kMiB / 4 / 1024, 1024, 0x20, 1};
      CUarray array = nullptr;
      CUresult r = g_api.cuArrayCreate(&array, &desc);
      std::printf("%sarray %s\n", prefix,
                  Outcome(Keep(r, Kind::kArray, reinterpret_cast<std::uint64_t>(array))));
    } else if (command == "array3d") {  // array3d MiB
      CUDA_ARRAY3D_DESCRIPTOR desc{Arg(argv, i) * kMiB / 4 / 1024 / 16, 1024, 16, 0x20, 1, 0};
      CUarray array = nullptr;
      CUresult r = g_api.cuArray3DCreate(&array, &desc);
      std::printf("%sarray3d %s\n", prefix,
                  Outcome(Keep(r, Kind::kArray, reinterpret_cast<std::uint64_t>(array))));
    } else if (command == "mipmap") {  // mipmap MiB-of-level-0
      CUDA_ARRAY3D_DESCRIPTOR desc{Arg(argv, i) * kMiB / 4 / 1024, 1024, 0, 0x20, 1, 0};
      CUmipmappedArray array = nullptr;
      CUresult r = g_api.cuMipmappedArrayCreate(&array, &desc, 4);
      std::printf("%smipmap %s\n", prefix,
                  Outcome(Keep(r, Kind::kMipmap, reinterpret_cast<std::uint64_t>(array))));
    } else if (command == "free") {  // frees the newest held allocation
      CUresult r = g_held.empty() ? CUDA_ERROR_INVALID_VALUE : FreeHeld(g_held.back());
      if (!g_held.empty()) {
        g_last_freed = g_held.back();
        g_held.pop_back();
      }
      std::printf("%sfree %s\n", prefix, Outcome(r));
    } else if (command == "free-again") {  // frees what the last "free" freed once more
      std::printf("%sfree-again %s\n", prefix, Outcome(FreeHeld(g_last_freed)));
    } else if (command == "fill") {  // fill CHUNK_MiB: allocate until refused, print the MiB held
      std::uint64_t chunk = Arg(argv, i), total = 0;
      while (Keep(g_api.cuMemAlloc(&pointer, chunk * kMiB), Kind::kPointer, pointer) ==
             CUDA_SUCCESS)
        total += chunk;
      std::printf("%sfill %llu\n", prefix, static_cast<unsigned long long>(total));
    } else if (command == "meminfo") {
      std::size_t free_bytes = 0, total_bytes = 0;
      CUresult r = g_api.cuMemGetInfo(&free_bytes, &total_bytes);
      std::printf("%smeminfo %s free=%zu total=%zu\n", prefix, Outcome(r), free_bytes / kMiB,
                  total_bytes / kMiB);
    } else if (command == "nvml") {  // NVML's memory view of device 0, v1 and v2
      PrintNvmlMemory(prefix);
    } else if (command == "totalmem") {
      std::size_t bytes = 0;
      CUresult r = g_api.cuDeviceTotalMem(&bytes, g_device);
      std::printf("%stotalmem %s %zu\n", prefix, Outcome(r), bytes / kMiB);
    } else if (command ==
               "race") {  // race THREADS ROUNDS CHUNK_MiB: allocate/free from many threads
      unsigned threads = static_cast<unsigned>(Arg(argv, i));
      std::uint64_t rounds = Arg(argv, i), chunk = Arg(argv, i);
      std::vector<std::thread> workers;
      for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          UseDevice(g_device);
          std::vector<CUdeviceptr> mine;
          for (std::uint64_t round = 0; round < rounds; ++round) {
            CUdeviceptr p = 0;
            if (g_api.cuMemAlloc(&p, chunk * kMiB) == CUDA_SUCCESS) mine.push_back(p);
            if ((round + t) % 3 == 2 && !mine.empty()) {
              g_api.cuMemFree(mine.back());
              mine.pop_back();
            }
          }
          for (CUdeviceptr p : mine) g_api.cuMemFree(p);
        });
      }
      for (auto& worker : workers) worker.join();
      std::printf("%srace peak=%llu used=%llu\n", prefix,
                  static_cast<unsigned long long>(g_api.fakeCudaPeakBytes(g_device) / kMiB),
                  static_cast<unsigned long long>(g_api.fakeCudaUsedBytes(g_device) / kMiB));
    } else if (command ==
               "launch") {  // launch COUNT MICROSECONDS: kernels of that simulated length
      std::uint64_t count = Arg(argv, i), micros = Arg(argv, i);
      auto kernel = reinterpret_cast<CUfunction>(static_cast<std::uintptr_t>(micros));
      auto start = std::chrono::steady_clock::now();
      CUresult r = CUDA_SUCCESS;
      for (std::uint64_t n = 0; n < count && r == CUDA_SUCCESS; ++n) {
        r = g_api.cuLaunchKernel(kernel, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr);
      }
      auto returned = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);  // launches are asynchronous
      g_api.cuCtxSynchronize();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      std::printf("%slaunch %s ms=%lld returned_ms=%lld\n", prefix, Outcome(r),
                  static_cast<long long>(ms.count()), static_cast<long long>(returned.count()));
    } else if (command == "launch-shapes") {  // launch-shapes COUNT MICROSECONDS GRID
      // One kernel launched alternately over 1 and GRID blocks (FAKE_CUDA_GRID_SCALES).
      std::uint64_t count = Arg(argv, i), micros = Arg(argv, i);
      auto grid = static_cast<unsigned>(Arg(argv, i));
      auto kernel = reinterpret_cast<CUfunction>(static_cast<std::uintptr_t>(micros));
      auto start = std::chrono::steady_clock::now();
      CUresult r = CUDA_SUCCESS;
      for (std::uint64_t n = 0; n < count && r == CUDA_SUCCESS; ++n) {
        r = g_api.cuLaunchKernel(kernel, n % 2 ? grid : 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr,
                                 nullptr);
      }
      g_api.cuCtxSynchronize();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      std::printf("%slaunch-shapes %s ms=%lld\n", prefix, Outcome(r),
                  static_cast<long long>(ms.count()));
    } else if (command == "launch-old") {  // launch-old launch|grid|gridasync COUNT MICROSECONDS
      std::string entry = argv[++i];
      std::uint64_t count = Arg(argv, i), micros = Arg(argv, i);
      auto kernel = reinterpret_cast<CUfunction>(static_cast<std::uintptr_t>(micros));
      auto start = std::chrono::steady_clock::now();
      CUresult r = CUDA_SUCCESS;
      for (std::uint64_t n = 0; n < count && r == CUDA_SUCCESS; ++n) {
        if (entry == "launch") {
          r = g_api.cuLaunch(kernel);
        } else if (entry == "grid") {
          r = g_api.cuLaunchGrid(kernel, 1, 1);
        } else {
          r = g_api.cuLaunchGridAsync(kernel, 1, 1, nullptr);
        }
      }
      g_api.cuCtxSynchronize();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      std::printf("%slaunch-old %s %s ms=%lld\n", prefix, entry.c_str(), Outcome(r),
                  static_cast<long long>(ms.count()));
    } else if (command == "lookup") {
      // lookup NAME (--lookup=getproc): where the look-up of NAME points, e.g.
      // "lookup cuMemMap libflexai-cuda.so cuMemMap". cuGetProcAddress: the bootstrap's answer.
      std::string name = argv[++i];
      void* found = name == "cuGetProcAddress" ? g_get_proc
                    : g_get_proc == nullptr    ? nullptr
                                               : LookUp(name.c_str());
      std::printf("%slookup %s %s\n", prefix, name.c_str(), Owner(found).c_str());
    } else if (command == "lookup-at") {
      // lookup-at VERSION NAME (--lookup=getproc): a look-up asking for an older version, as
      // cudaGetDriverEntryPointByVersion allows; prints where it points.
      int version = std::atoi(argv[++i]);
      std::string name = argv[++i];
      void* found = g_get_proc == nullptr ? nullptr : LookUp(name.c_str(), version);
      std::printf("%slookup-at %d %s %s\n", prefix, version, name.c_str(), Owner(found).c_str());
    } else if (command == "launch-variants") {  // one launch through each other launch entry point
      auto kernel = reinterpret_cast<CUfunction>(std::uintptr_t{10});
      CUlaunchConfig config{};
      CUresult ex = g_api.cuLaunchKernelEx(&config, kernel, nullptr, nullptr);
      CUresult coop =
          g_api.cuLaunchCooperativeKernel(kernel, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr);
      CUresult graph =
          g_api.cuGraphLaunch(reinterpret_cast<CUgraphExec>(std::uintptr_t{10}), nullptr);
      std::printf("%slaunch-variants %s %s %s\n", prefix, Outcome(ex), Outcome(coop),
                  Outcome(graph));
    } else if (command == "touch") {  // touch PATH: tell another process we got here
      if (FILE* file = std::fopen(argv[++i], "w")) std::fclose(file);
      continue;
    } else if (command == "churn-exit") {  // churn-exit MS: exit() while a thread allocates
      std::thread([] {
        UseDevice(g_device);
        for (;;) {
          CUdeviceptr p = 0;
          if (g_api.cuMemAlloc(&p, kMiB) == CUDA_SUCCESS) g_api.cuMemFree(p);
        }
      }).detach();
      std::this_thread::sleep_for(std::chrono::milliseconds(Arg(argv, i)));
      std::printf("%schurn-exit\n", prefix);
      std::fflush(stdout);
      std::exit(0);
    } else if (command == "churn-reset") {  // churn-reset N: N primary context resets racing
      std::atomic<bool> stop{false};        // a thread that allocates and frees
      std::atomic<int> failed_frees{0};
      std::thread churn([&] {
        UseDevice(g_device);
        while (!stop) {
          CUdeviceptr p = 0;
          if (g_api.cuMemAlloc(&p, kMiB) == CUDA_SUCCESS && g_api.cuMemFree(p) != CUDA_SUCCESS) {
            ++failed_frees;
          }
        }
      });
      for (std::uint64_t n = Arg(argv, i); n > 0; --n) g_api.cuDevicePrimaryCtxReset(g_device);
      stop = true;
      churn.join();
      std::printf("%schurn-reset ok\n", prefix);
    } else if (command == "sleep") {  // sleep MS
      std::this_thread::sleep_for(std::chrono::milliseconds(Arg(argv, i)));
      continue;
    } else if (command == "wait-file") {  // wait-file PATH: until another process touched it (30 s)
      const char* path = argv[++i];
      for (int tries = 0; tries < 3000 && access(path, F_OK) != 0; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    } else if (command == "ppid") {  // getppid() through whatever interposes it
      std::printf("%sppid %s\n", prefix,
                  getppid() == static_cast<pid_t>(syscall(SYS_getppid)) ? "ok" : "wrong");
    } else if (command == "calls") {  // calls SYMBOL: how often the fake driver saw it
      const char* symbol = argv[++i];
      std::printf("%scalls %s %d\n", prefix, symbol, g_api.fakeCudaCalls(symbol));
    } else if (command == "ctx-create") {  // a context of its own on the device, made current
      CUcontext context = nullptr;
      CUresult r = g_api.cuCtxCreate(&context, 0, g_device);
      if (r == CUDA_SUCCESS) g_created_contexts.push_back(context);
      std::printf("%sctx-create %s\n", prefix, Outcome(r));
    } else if (command == "ctx-destroy") {  // the newest created context; the primary is current
      CUresult r = CUDA_ERROR_INVALID_VALUE;
      if (!g_created_contexts.empty()) {
        r = g_api.cuCtxDestroy(g_created_contexts.back());
        g_created_contexts.pop_back();
      }
      g_api.cuCtxSetCurrent(g_primary);
      std::printf("%sctx-destroy %s\n", prefix, Outcome(r));
    } else if (command == "reset") {  // what cudaDeviceReset does
      std::printf("%sreset %s\n", prefix, Outcome(g_api.cuDevicePrimaryCtxReset(g_device)));
    } else if (command == "release-primary") {
      std::printf("%srelease-primary %s\n", prefix,
                  Outcome(g_api.cuDevicePrimaryCtxRelease(g_device)));
    } else if (command == "exec") {  // exec COMMAND...: replace this program by a fresh probe
      std::fflush(stdout);
      std::vector<char*> args = {argv[0]};
      for (int j = i + 1; j < argc; ++j) args.push_back(argv[j]);
      args.push_back(nullptr);
      execv("/proc/self/exe", args.data());
      std::printf("%sexec failed\n", prefix);
      return argc;
    } else if (command == "child") {  // child COMMAND... end: run them in a fork child, then exit
      std::fflush(stdout);
      pid_t pid = fork();
      if (pid == 0) {
        g_held.clear();
        Run(argc, argv, i + 1, "child: ");
        std::fflush(stdout);
        _exit(0);  // without freeing: the parent checks that the quota comes back
      }
      int status = 0;
      waitpid(pid, &status, 0);
      int depth = 1;
      while (depth > 0 && ++i < argc) {
        if (std::strcmp(argv[i], "child") == 0) ++depth;
        if (std::strcmp(argv[i], "end") == 0) --depth;
      }
    } else {
      std::printf("error unknown command %s\n", command.c_str());
      return argc;
    }
    std::fflush(stdout);
  }
  return i;
}

}  // namespace

int main(int argc, char** argv) {
  std::string lookup = "dlsym";
  bool ptsz = false;
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "--", 2) == 0; ++i) {
    if (std::strncmp(argv[i], "--lookup=", 9) == 0) lookup = argv[i] + 9;
    if (std::strcmp(argv[i], "--ptsz") == 0) ptsz = true;
    if (std::strncmp(argv[i], "--cuda-version=", 15) == 0) g_cuda_version = std::atoi(argv[i] + 15);
  }
  LoadApi(lookup, ptsz);
  g_api.cuInit(0);
  UseDevice(0);
  Run(argc, argv, i, "");
  return 0;
}
