// GPU isolation probe for bench/gpu/isolation.sh: a small CUDA driver-API program that needs no
// CUDA headers or toolkit. It dlopen()s libcuda.so.1 and finds every function through
// cuGetProcAddress, as the CUDA runtime does, so libflexai-cuda.so sees it like a real program.
//   isolation_probe [--ptx FILE] fill CHUNK_MIB           allocate until refused; print MiB held
//   isolation_probe [--ptx FILE] meminfo                  cuMemGetInfo
//   isolation_probe [--ptx FILE] calibrate TARGET_MS GRID print spin iterations for TARGET_MS
//   isolation_probe [--ptx FILE] spin SECONDS ITERS GRID [START_AT_UNIX_MS]
//                                                         kernels/s of the spin kernel
//   isolation_probe [--ptx FILE] launches COUNT           microseconds per empty-kernel launch
#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = std::uint64_t;
using Handle = void*;

const char kEmbeddedPtx[] =
#include "spin_kernels.ptx.inc"
    ;

constexpr int kLookupVersion = 12000;
constexpr unsigned kThreadsPerBlock = 256;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(int*, int);
  CUresult (*cuDevicePrimaryCtxRetain)(Handle*, int);
  CUresult (*cuCtxSetCurrent)(Handle);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(Handle*, const void*);
  CUresult (*cuModuleGetFunction)(Handle*, Handle, const char*);
  CUresult (*cuLaunchKernel)(Handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, Handle, void**, void**);
  CUresult (*cuMemAlloc)(CUdeviceptr*, std::size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemGetInfo)(std::size_t*, std::size_t*);
};

Driver g_cu{};
Handle g_spin = nullptr;
Handle g_empty = nullptr;

[[noreturn]] void Fail(const std::string& what, CUresult result) {
  std::printf("error %s failed with CUresult %d\n", what.c_str(), result);
  std::exit(1);
}

void Check(CUresult result, const char* what) {
  if (result != 0) Fail(what, result);
}

template <typename F>
void Lookup(F& field, CUresult (*get_proc)(const char*, void**, int, std::uint64_t, int*),
            const char* name) {
  void* pointer = nullptr;
  Check(get_proc(name, &pointer, kLookupVersion, 0, nullptr), name);
  field = reinterpret_cast<F>(pointer);
}

void LoadDriver(const std::string& ptx_path) {
  void* libcuda = dlopen("libcuda.so.1", RTLD_NOW);
  if (libcuda == nullptr) {
    std::printf("error cannot load libcuda.so.1: %s\n", dlerror());
    std::exit(1);
  }
  using GetProc = CUresult(const char*, void**, int, std::uint64_t, int*);
  auto* bootstrap = reinterpret_cast<GetProc*>(dlsym(libcuda, "cuGetProcAddress_v2"));
  if (bootstrap == nullptr) Fail("dlsym cuGetProcAddress_v2", -1);
  GetProc* get_proc = nullptr;
  Lookup(get_proc, bootstrap, "cuGetProcAddress");
  Lookup(g_cu.cuInit, get_proc, "cuInit");
  Lookup(g_cu.cuDeviceGet, get_proc, "cuDeviceGet");
  Lookup(g_cu.cuDevicePrimaryCtxRetain, get_proc, "cuDevicePrimaryCtxRetain");
  Lookup(g_cu.cuCtxSetCurrent, get_proc, "cuCtxSetCurrent");
  Lookup(g_cu.cuCtxSynchronize, get_proc, "cuCtxSynchronize");
  Lookup(g_cu.cuModuleLoadData, get_proc, "cuModuleLoadData");
  Lookup(g_cu.cuModuleGetFunction, get_proc, "cuModuleGetFunction");
  Lookup(g_cu.cuLaunchKernel, get_proc, "cuLaunchKernel");
  Lookup(g_cu.cuMemAlloc, get_proc, "cuMemAlloc");
  Lookup(g_cu.cuMemFree, get_proc, "cuMemFree");
  Lookup(g_cu.cuMemGetInfo, get_proc, "cuMemGetInfo");

  Check(g_cu.cuInit(0), "cuInit");
  int device = 0;
  Check(g_cu.cuDeviceGet(&device, 0), "cuDeviceGet");
  Handle context = nullptr;
  Check(g_cu.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  Check(g_cu.cuCtxSetCurrent(context), "cuCtxSetCurrent");

  std::string ptx = kEmbeddedPtx;
  if (!ptx_path.empty()) {
    std::ifstream file(ptx_path);
    std::stringstream text;
    text << file.rdbuf();
    if (!text.str().empty()) ptx = text.str();
  }
  Handle module = nullptr;
  Check(g_cu.cuModuleLoadData(&module, ptx.c_str()), "cuModuleLoadData (PTX JIT)");
  Check(g_cu.cuModuleGetFunction(&g_spin, module, "spin"), "cuModuleGetFunction spin");
  Check(g_cu.cuModuleGetFunction(&g_empty, module, "empty"), "cuModuleGetFunction empty");
}

double Seconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

CUresult LaunchSpin(unsigned long long iterations, unsigned grid) {
  CUdeviceptr out = 0;
  void* params[] = {&iterations, &out};
  return g_cu.cuLaunchKernel(g_spin, grid, 1, 1, kThreadsPerBlock, 1, 1, 0, nullptr, params,
                             nullptr);
}

void Fill(std::size_t chunk_mib) {
  std::vector<CUdeviceptr> held;
  CUresult last = 0;
  while (true) {
    CUdeviceptr pointer = 0;
    last = g_cu.cuMemAlloc(&pointer, chunk_mib << 20);
    if (last != 0) break;
    held.push_back(pointer);
  }
  std::printf("fill_mib=%zu refused_with=%d\n", held.size() * chunk_mib, last);
  for (CUdeviceptr pointer : held) g_cu.cuMemFree(pointer);
}

// One allocation of `mib` MiB, as an oversized tensor would ask: prints its result code.
void AllocOnce(std::size_t mib) {
  CUdeviceptr pointer = 0;
  CUresult result = g_cu.cuMemAlloc(&pointer, mib << 20);
  std::printf("alloc_mib=%zu alloc_result=%d\n", mib, result);
  if (result == 0) g_cu.cuMemFree(pointer);
}

void MemInfo() {
  std::size_t free_bytes = 0, total_bytes = 0;
  Check(g_cu.cuMemGetInfo(&free_bytes, &total_bytes), "cuMemGetInfo");
  std::printf("meminfo_free_mib=%zu meminfo_total_mib=%zu\n", free_bytes >> 20, total_bytes >> 20);
}

void Calibrate(double target_ms, unsigned grid) {
  unsigned long long iterations = 20000;
  double ms = 0;
  for (int round = 0; round < 4; ++round) {
    auto start = std::chrono::steady_clock::now();
    Check(LaunchSpin(iterations, grid), "launch spin");
    Check(g_cu.cuCtxSynchronize(), "cuCtxSynchronize");
    ms = Seconds(std::chrono::steady_clock::now() - start) * 1000;
    if (round > 0 && ms > 0)
      iterations = static_cast<unsigned long long>(iterations * target_ms / ms) + 1;
  }
  std::printf("iters=%llu last_ms=%.3f\n", iterations, ms);
}

void Spin(double seconds, unsigned long long iterations, unsigned grid, long long start_at_ms) {
  Check(LaunchSpin(iterations, grid), "warm-up launch");  // JIT, first-launch timing, caches
  Check(g_cu.cuCtxSynchronize(), "cuCtxSynchronize");
  if (start_at_ms > 0) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(start_at_ms)));
  }
  auto start = std::chrono::steady_clock::now();
  long long kernels = 0;
  while (Seconds(std::chrono::steady_clock::now() - start) < seconds) {
    for (int i = 0; i < 4; ++i) Check(LaunchSpin(iterations, grid), "launch spin");
    Check(g_cu.cuCtxSynchronize(), "cuCtxSynchronize");  // bounded queue: count completed work
    kernels += 4;
  }
  double elapsed = Seconds(std::chrono::steady_clock::now() - start);
  std::printf("kernels=%lld seconds=%.3f rate=%.3f\n", kernels, elapsed, kernels / elapsed);
}

void Launches(long long count) {
  for (int i = 0; i < 100; ++i)
    Check(g_cu.cuLaunchKernel(g_empty, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr), "launch");
  Check(g_cu.cuCtxSynchronize(), "cuCtxSynchronize");
  auto start = std::chrono::steady_clock::now();
  for (long long i = 0; i < count; ++i) {
    CUresult result = g_cu.cuLaunchKernel(g_empty, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr);
    if (result != 0) Fail("launch empty", result);
  }
  Check(g_cu.cuCtxSynchronize(), "cuCtxSynchronize");
  double elapsed = Seconds(std::chrono::steady_clock::now() - start);
  std::printf("launch_us=%.4f\n", elapsed * 1e6 / static_cast<double>(count));
}

}  // namespace

int main(int argc, char** argv) {
  std::string ptx_path;
  int i = 1;
  if (i + 1 < argc && std::strcmp(argv[i], "--ptx") == 0) {
    ptx_path = argv[i + 1];
    i += 2;
  }
  if (i >= argc) {
    std::printf(
        "usage: isolation_probe [--ptx FILE] fill|alloc|meminfo|calibrate|spin|launches ...\n");
    return 2;
  }
  std::string command = argv[i];
  auto arg = [&](int n) { return i + n < argc ? argv[i + n] : "0"; };
  LoadDriver(ptx_path);
  if (command == "fill")
    Fill(std::strtoull(arg(1), nullptr, 10));
  else if (command == "alloc")
    AllocOnce(std::strtoull(arg(1), nullptr, 10));
  else if (command == "meminfo")
    MemInfo();
  else if (command == "calibrate")
    Calibrate(std::atof(arg(1)), static_cast<unsigned>(std::atoi(arg(2))));
  else if (command == "spin")
    Spin(std::atof(arg(1)), std::strtoull(arg(2), nullptr, 10),
         static_cast<unsigned>(std::atoi(arg(3))), std::atoll(arg(4)));
  else if (command == "launches")
    Launches(std::atoll(arg(1)));
  else {
    std::printf("error unknown command %s\n", command.c_str());
    return 2;
  }
  std::fflush(stdout);
  return 0;
}
