// Another preloaded interposer, as a program might bring its own: it wraps getppid and finds the
// real one with dlsym(RTLD_NEXT), which must still mean "after this library" with our dlsym
// wrapper in front of it.
#include <dlfcn.h>
#include <unistd.h>

extern "C" __attribute__((visibility("default"))) pid_t getppid() {
  using GetPpid = pid_t();
  static auto* next = reinterpret_cast<GetPpid*>(dlsym(RTLD_NEXT, "getppid"));
  return next();
}
