// Runs hook_probe with libflexai-cuda.so preloaded over the fake libcuda, in a fresh shared
// directory per test, and hands back its output lines.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace flexai::isolation::testing {

class ProbeRunner {
 public:
  ProbeRunner();   // creates a temporary FLEXAI_SHARED_DIR
  ~ProbeRunner();  // removes it

  // Environment for every run; tests add FLEXAI_* values here.
  std::map<std::string, std::string> env;
  std::string probe = FLEXAI_HOOK_PROBE;  // or FLEXAI_HOOK_PROBE_NVML_LINKED
  bool preload_hook = true;
  std::string also_preload;          // a second library preloaded after the hook
  std::vector<std::string> wrapper;  // runs the probe through this command (e.g. unshare)

  // Runs `<probe> ARGS...`; returns stdout+stderr split into lines.
  std::vector<std::string> Run(const std::vector<std::string>& args) const;
  const std::string& shared_dir() const { return shared_dir_; }
  std::string usage_path() const { return shared_dir_ + "/usage.bin"; }

 private:
  std::string shared_dir_;
};

// Whether `lines` contains `line` exactly.
bool HasLine(const std::vector<std::string>& lines, const std::string& line);

}  // namespace flexai::isolation::testing
