// The two ways a program finds driver functions without linking them: dlsym on the libcuda
// handle (the CUDA runtime fetches cuGetProcAddress_v2 that way, PyTorch fetches cu* symbols)
// and cuGetProcAddress (the runtime's ~440 other look-ups). Both hand out our wrappers; dlsym
// does the same for the NVML memory queries on a libnvidia-ml handle (as pynvml looks them up).
#include <dlfcn.h>

#include <cstring>
#include <string>

#include "isolation/hook/hook_exports.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

using cuda::CUDA_SUCCESS;
using cuda::CUresult;

// Whether `exported` is `base` with a version suffix, e.g. cuMemGetInfo_v3 for cuMemGetInfo.
bool IsOtherVersionOf(const char* exported, const char* base) {
  std::size_t length = std::strlen(base);
  return std::strncmp(exported, base, length) == 0 && std::strncmp(exported + length, "_v", 2) == 0;
}

// The wrapper for what the driver actually returned. Our name + version table picks the ABI the
// caller will use; the driver's answer, when it is an exported symbol, can only veto that pick:
// a version of the function we do not know (a future _v3) is left unwrapped rather than called
// through a wrapper with another signature. A name of another entry point we do know (an alias,
// e.g. one implementation behind both cuGetProcAddress ABIs) changes nothing: the caller's ABI
// is the one it asked for.
int ConfirmedHook(const char* symbol, int planned, const void* real) {
  Dl_info info{};
  if (dladdr(real, &info) == 0 || info.dli_saddr != real || info.dli_sname == nullptr)
    return planned;
  if (std::strcmp(info.dli_sname, HookSymbol(planned)) == 0) return planned;
  // A per-thread-stream look-up at a version older than the _ptsz variant gets the plain entry
  // point (same ABI, legacy default stream): wrap that one, or our _ptsz wrapper would forward
  // every later _ptsz call to it.
  if (std::string ptsz = std::string(info.dli_sname) + "_ptsz"; ptsz == HookSymbol(planned)) {
    return FindHook(info.dli_sname);
  }
  if (FindHook(info.dli_sname) >= 0) return planned;
  if (IsOtherVersionOf(info.dli_sname, symbol)) {
    HookLog((std::string("cuGetProcAddress(\"") + symbol + "\") returned " + info.dli_sname +
             ", an entry point this library does not know; it is not intercepted")
                .c_str());
    return -1;
  }
  return planned;
}

// Replaces a successful look-up result with our wrapper, remembering the real function.
void SubstituteWrapper(const char* symbol, int cuda_version, std::uint64_t flags, void** pfn) {
  int index = FindVersionedHook(symbol, cuda_version, flags);
  if (index < 0 || pfn == nullptr || *pfn == nullptr) return;
  if (IsInThisLibrary(*pfn)) return;  // already ours
  index = ConfirmedHook(symbol, index, *pfn);
  if (index < 0) return;
  StoreReal(index, *pfn);
  *pfn = HookWrapper(index);
}

}  // namespace
}  // namespace flexai::isolation

namespace iso = flexai::isolation;

extern "C" {

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, std::uint64_t flags,
                             int* symbol_status) {
  auto* real = iso::Real<decltype(cuGetProcAddress_v2)>(iso::HookId::kGetProcAddress_v2);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(symbol, pfn, cuda_version, flags, symbol_status);
  if (result == CUDA_SUCCESS) iso::SubstituteWrapper(symbol, cuda_version, flags, pfn);
  return result;
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int cuda_version, std::uint64_t flags) {
  auto* real = iso::Real<decltype(cuGetProcAddress)>(iso::HookId::kGetProcAddress);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUresult result = real(symbol, pfn, cuda_version, flags);
  if (result == CUDA_SUCCESS) iso::SubstituteWrapper(symbol, cuda_version, flags, pfn);
  return result;
}

// Every dlsym but RTLD_NEXT (dlsym_entry.cc jumps to glibc for that one, and here when glibc's
// dlsym cannot be found).
__attribute__((visibility("hidden"))) void* FlexaiDlsym(void* handle, const char* symbol) {
  iso::DlsymFunction* real_dlsym = iso::RealDlsym();
  if (real_dlsym == nullptr) return nullptr;
  void* found = real_dlsym(handle, symbol);
  int index = iso::FindHook(symbol);
  // Only look-ups that reach the library we replace the function of (libcuda, or libnvidia-ml for
  // the NVML memory queries) are redirected; anything else is left alone.
  if (index < 0 || found == nullptr || !iso::IsInHookedLibrary(index, found)) return found;
  iso::StoreReal(index, found);
  return iso::HookWrapper(index);
}

}  // extern "C"
