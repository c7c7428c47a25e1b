#include "isolation/hook/hook_symbols.h"

#include <dlfcn.h>

#include <array>
#include <atomic>
#include <cstring>
#include <string_view>

#include "isolation/hook/hook_exports.h"

namespace flexai::isolation {
namespace {

enum class Library { kLibcuda, kLibnvml };

struct HookEntry {
  const char* symbol;
  void* wrapper;
  Library library = Library::kLibcuda;
};

#define FLEXAI_HOOK(name) \
  HookEntry { #name, reinterpret_cast < void*>(&::name) }
#define FLEXAI_NVML_HOOK(name) \
  HookEntry { #name, reinterpret_cast < void*>(&::name), Library::kLibnvml }

// Same order as HookId.
const std::array<HookEntry, static_cast<int>(HookId::kCount)> kHooks = {
    FLEXAI_HOOK(cuMemAlloc),
    FLEXAI_HOOK(cuMemAlloc_v2),
    FLEXAI_HOOK(cuMemAllocPitch),
    FLEXAI_HOOK(cuMemAllocPitch_v2),
    FLEXAI_HOOK(cuMemAllocManaged),
    FLEXAI_HOOK(cuMemAllocAsync),
    FLEXAI_HOOK(cuMemAllocAsync_ptsz),
    FLEXAI_HOOK(cuMemAllocFromPoolAsync),
    FLEXAI_HOOK(cuMemAllocFromPoolAsync_ptsz),
    FLEXAI_HOOK(cuMemCreate),
    FLEXAI_HOOK(cuArrayCreate),
    FLEXAI_HOOK(cuArrayCreate_v2),
    FLEXAI_HOOK(cuArray3DCreate),
    FLEXAI_HOOK(cuArray3DCreate_v2),
    FLEXAI_HOOK(cuMipmappedArrayCreate),
    FLEXAI_HOOK(cuMemFree),
    FLEXAI_HOOK(cuMemFree_v2),
    FLEXAI_HOOK(cuMemFreeAsync),
    FLEXAI_HOOK(cuMemFreeAsync_ptsz),
    FLEXAI_HOOK(cuMemRelease),
    FLEXAI_HOOK(cuMemRetainAllocationHandle),
    FLEXAI_HOOK(cuMemMap),
    FLEXAI_HOOK(cuMemUnmap),
    FLEXAI_HOOK(cuArrayDestroy),
    FLEXAI_HOOK(cuMipmappedArrayDestroy),
    FLEXAI_HOOK(cuMemGetInfo),
    FLEXAI_HOOK(cuMemGetInfo_v2),
    FLEXAI_HOOK(cuDeviceTotalMem),
    FLEXAI_HOOK(cuDeviceTotalMem_v2),
    FLEXAI_HOOK(cuLaunchKernel),
    FLEXAI_HOOK(cuLaunchKernel_ptsz),
    FLEXAI_HOOK(cuLaunchKernelEx),
    FLEXAI_HOOK(cuLaunchKernelEx_ptsz),
    FLEXAI_HOOK(cuLaunchCooperativeKernel),
    FLEXAI_HOOK(cuLaunchCooperativeKernel_ptsz),
    FLEXAI_HOOK(cuLaunch),
    FLEXAI_HOOK(cuLaunchGrid),
    FLEXAI_HOOK(cuLaunchGridAsync),
    FLEXAI_HOOK(cuGraphLaunch),
    FLEXAI_HOOK(cuGraphLaunch_ptsz),
    FLEXAI_HOOK(cuGetProcAddress),
    FLEXAI_HOOK(cuGetProcAddress_v2),
    FLEXAI_HOOK(cuCtxDestroy),
    FLEXAI_HOOK(cuCtxDestroy_v2),
    FLEXAI_HOOK(cuDevicePrimaryCtxRetain),
    FLEXAI_HOOK(cuDevicePrimaryCtxRelease),
    FLEXAI_HOOK(cuDevicePrimaryCtxRelease_v2),
    FLEXAI_HOOK(cuDevicePrimaryCtxReset),
    FLEXAI_HOOK(cuDevicePrimaryCtxReset_v2),
    FLEXAI_NVML_HOOK(nvmlDeviceGetMemoryInfo),
    FLEXAI_NVML_HOOK(nvmlDeviceGetMemoryInfo_v2),
};

#undef FLEXAI_HOOK
#undef FLEXAI_NVML_HOOK

// Constant-initialised: usable from dlsym calls made before any constructor ran.
std::array<std::atomic<void*>, static_cast<int>(HookId::kCount)> g_real{};

// Entry points whose ABI changed: a look-up at or after `since` gets the "_v2" symbol.
struct VersionedName {
  const char* name;
  int since;
};
constexpr VersionedName kVersioned[] = {
    {"cuMemAlloc", 3020},
    {"cuMemAllocPitch", 3020},
    {"cuMemFree", 3020},
    {"cuMemGetInfo", 3020},
    {"cuArrayCreate", 3020},
    {"cuArray3DCreate", 3020},
    {"cuDeviceTotalMem", 3020},
    {"cuGetProcAddress", 12000},
    {"cuCtxDestroy", 4000},
    {"cuDevicePrimaryCtxRelease", 11000},
    {"cuDevicePrimaryCtxReset", 11000},
};

// Entry points that take a stream and have a per-thread-default-stream variant.
constexpr const char* kPerThreadStream[] = {
    "cuMemAllocAsync",  "cuMemAllocFromPoolAsync",   "cuMemFreeAsync", "cuLaunchKernel",
    "cuLaunchKernelEx", "cuLaunchCooperativeKernel", "cuGraphLaunch",
};

bool IsInLibraryNamed(const void* address, std::string_view prefix) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return false;
  std::string_view path = info.dli_fname;
  std::size_t slash = path.rfind('/');
  std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return file.substr(0, prefix.size()) == prefix;
}

void* LibcudaHandle() {
  static std::atomic<void*> handle{nullptr};
  void* current = handle.load(std::memory_order_acquire);
  if (current != nullptr) return current;
  current = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (current == nullptr) current = dlopen("libcuda.so.1", RTLD_LAZY);
  if (current == nullptr) current = dlopen("libcuda.so", RTLD_LAZY);
  handle.store(current, std::memory_order_release);
  return current;
}

// An NVML function as the caller's libnvidia-ml has it: from libnvidia-ml.so.1 when it is loaded
// (dlopened with RTLD_LOCAL too), else the next definition after this library. Never loads NVML:
// a program that reaches our NVML exports has it loaded already.
void* RealLibnvmlSymbol(const char* symbol) {
  void* found = nullptr;
  if (void* handle = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_NOLOAD); handle != nullptr) {
    found = RealDlsym()(handle, symbol);
    dlclose(handle);
  }
  return found != nullptr ? found : RealDlsym()(RTLD_NEXT, symbol);
}

}  // namespace

int FindHook(const char* symbol) {
  if (symbol == nullptr ||
      !((symbol[0] == 'c' && symbol[1] == 'u') || (symbol[0] == 'n' && symbol[1] == 'v'))) {
    return -1;
  }
  for (std::size_t i = 0; i < kHooks.size(); ++i) {
    if (std::strcmp(kHooks[i].symbol, symbol) == 0) return static_cast<int>(i);
  }
  return -1;
}

const char* HookSymbol(int index) { return kHooks[static_cast<std::size_t>(index)].symbol; }
void* HookWrapper(int index) { return kHooks[static_cast<std::size_t>(index)].wrapper; }

bool IsInHookedLibrary(int index, const void* address) {
  return kHooks[static_cast<std::size_t>(index)].library == Library::kLibnvml
             ? IsInLibraryNamed(address, "libnvidia-ml.so")
             : IsInLibcuda(address);
}

int FindVersionedHook(const char* name, int cuda_version, std::uint64_t flags) {
  if (name == nullptr) return -1;
  char symbol[128];
  std::size_t length = std::strlen(name);
  if (length + 6 >= sizeof(symbol)) return -1;
  std::memcpy(symbol, name, length + 1);
  for (const VersionedName& versioned : kVersioned) {
    if (std::strcmp(versioned.name, name) == 0 && cuda_version >= versioned.since) {
      std::memcpy(symbol + length, "_v2", 4);
    }
  }
  if ((flags & cuda::CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0) {
    for (const char* stream_name : kPerThreadStream) {
      if (std::strcmp(stream_name, name) == 0) std::memcpy(symbol + length, "_ptsz", 6);
    }
  }
  int index = FindHook(symbol);
  return index >= 0 && kHooks[static_cast<std::size_t>(index)].library == Library::kLibcuda ? index
                                                                                            : -1;
}

void StoreReal(int index, void* real) {
  if (index < 0 || real == nullptr || IsInThisLibrary(real)) return;
  g_real[static_cast<std::size_t>(index)].store(real, std::memory_order_release);
}

void* RealFunction(HookId id) {
  auto index = static_cast<std::size_t>(id);
  void* real = g_real[index].load(std::memory_order_acquire);
  if (real != nullptr) return real;
  real = kHooks[index].library == Library::kLibnvml ? RealLibnvmlSymbol(kHooks[index].symbol)
                                                    : RealLibcudaSymbol(kHooks[index].symbol);
  StoreReal(static_cast<int>(index), real);
  return real;
}

void* RealLibcudaSymbol(const char* symbol) {
  void* handle = LibcudaHandle();
  return handle == nullptr ? nullptr : RealDlsym()(handle, symbol);
}

void* SiblingSymbol(const void* function, const char* symbol) {
  Dl_info info{};
  if (function == nullptr || dladdr(function, &info) == 0 || info.dli_fname == nullptr)
    return nullptr;
  void* handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return nullptr;
  void* found = RealDlsym()(handle, symbol);
  dlclose(handle);
  return found;
}

DlsymFunction* RealDlsym() {
  static std::atomic<DlsymFunction*> real{nullptr};
  DlsymFunction* current = real.load(std::memory_order_acquire);
  if (current != nullptr) return current;
    // dlvsym is not wrapped, so it reaches glibc's dlsym. The architecture's first glibc version
    // exists on every glibc (2.34+ keeps it as a compat symbol of libc.so.6): a failed dlvsym
    // allocates its error text, and this runs inside malloc interposers' malloc, so there is
    // exactly one try.
#if defined(__x86_64__)
  constexpr const char* kFirstGlibc = "GLIBC_2.2.5";
#elif defined(__aarch64__)
  constexpr const char* kFirstGlibc = "GLIBC_2.17";
#else
  constexpr const char* kFirstGlibc = "GLIBC_2.0";
#endif
  current = reinterpret_cast<DlsymFunction*>(dlvsym(RTLD_NEXT, "dlsym", kFirstGlibc));
  real.store(current, std::memory_order_release);
  return current;
}

bool IsInLibcuda(const void* address) { return IsInLibraryNamed(address, "libcuda.so"); }

bool IsInThisLibrary(const void* address) {
  Dl_info mine{};
  Dl_info theirs{};
  if (dladdr(reinterpret_cast<void*>(&RealDlsym), &mine) == 0 || dladdr(address, &theirs) == 0)
    return false;
  return mine.dli_fbase == theirs.dli_fbase;
}

}  // namespace flexai::isolation
