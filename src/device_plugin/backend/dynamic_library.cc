#include "device_plugin/backend/dynamic_library.h"

#include <dlfcn.h>

namespace flexai::device_plugin {

Result<std::unique_ptr<DynamicLibrary>> DynamicLibrary::Open(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Error{"cannot load " + path + ": " + (why ? why : "unknown dlopen error")};
  }
  return std::unique_ptr<DynamicLibrary>(new DynamicLibrary(path, handle));
}

DynamicLibrary::~DynamicLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* DynamicLibrary::Find(const char* name) const { return dlsym(handle_, name); }

}  // namespace flexai::device_plugin
