// A malloc interposer of the simplest kind (leak tracers, glibc's libmemusage, sanitizers): it
// finds the real malloc with dlsym(RTLD_NEXT) from inside its own malloc. Our dlsym wrapper must
// therefore never allocate on that path, or the two recurse until the stack overflows.
#include <dlfcn.h>

#include <cstddef>

namespace {
using Malloc = void*(std::size_t);
Malloc* g_next_malloc = nullptr;
}  // namespace

extern "C" __attribute__((visibility("default"))) void* malloc(std::size_t size) {
  if (g_next_malloc == nullptr)
    g_next_malloc = reinterpret_cast<Malloc*>(dlsym(RTLD_NEXT, "malloc"));
  return g_next_malloc(size);
}
