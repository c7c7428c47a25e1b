// A shared library opened with dlopen at run time and closed on destruction, so the daemon builds
// and starts without any vendor SDK; symbols are looked up by name.
#pragma once

#include <memory>
#include <string>

#include "partition/result.h"

namespace flexai::device_plugin {

class DynamicLibrary {
 public:
  static Result<std::unique_ptr<DynamicLibrary>> Open(const std::string& path);
  ~DynamicLibrary();
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;

  const std::string& path() const { return path_; }
  // The symbol's address, or nullptr when the library does not export it.
  void* Find(const char* name) const;
  // Typed look-up: Bind(fn, "name") sets `fn`; false when missing.
  template <typename Fn>
  bool Bind(Fn& fn, const char* name) const {
    fn = reinterpret_cast<Fn>(Find(name));
    return fn != nullptr;
  }

 private:
  DynamicLibrary(std::string path, void* handle) : path_(std::move(path)), handle_(handle) {}
  std::string path_;
  void* handle_ = nullptr;
};

}  // namespace flexai::device_plugin
