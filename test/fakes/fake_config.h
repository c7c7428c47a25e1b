// Shared by the fake vendor libraries: a JSON file named by an environment variable, re-read
// whenever it changes, so a test can flip a chip's health or inject an error while the daemon
// runs. Test-only code.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace flexai::fakes {

class FakeConfig {
 public:
  explicit FakeConfig(const char* env_var) : env_var_(env_var) {}

  // The current configuration (an empty object when the file is missing or malformed).
  nlohmann::json Get() {
    std::lock_guard lock(mu_);
    const char* path = std::getenv(env_var_);
    if (path == nullptr) return nlohmann::json::object();
    struct stat st {};
    if (stat(path, &st) != 0) return config_;
    if (loaded_ && st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec &&
        st.st_size == size_) {
      return config_;
    }
    std::ifstream in(path);
    nlohmann::json parsed = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return config_;
    config_ = parsed;
    mtime_ = st.st_mtim;
    size_ = st.st_size;
    loaded_ = true;
    return config_;
  }

 private:
  const char* env_var_;
  std::mutex mu_;
  nlohmann::json config_ = nlohmann::json::object();
  struct timespec mtime_ = {};
  off_t size_ = -1;
  bool loaded_ = false;
};

// config["errors"][function] as a return code, 0 when absent.
inline int InjectedError(const nlohmann::json& scope, const char* function) {
  if (!scope.contains("errors") || !scope["errors"].contains(function)) return 0;
  return scope["errors"][function].get<int>();
}

}  // namespace flexai::fakes
