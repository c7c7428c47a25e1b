#include "probe_runner.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "isolation/process_runner.h"

namespace flexai::isolation::testing {

ProbeRunner::ProbeRunner() {
  std::string pattern = (std::filesystem::temp_directory_path() / "flexai-hook-XXXXXX").string();
  shared_dir_ = mkdtemp(pattern.data());
  env["LD_LIBRARY_PATH"] = FLEXAI_FAKE_DRIVER_DIR;
  env["FLEXAI_SHARED_DIR"] = shared_dir_;
  env["FAKE_CUDA_MEMORY_MIB"] = "1024";
}

ProbeRunner::~ProbeRunner() {
  std::error_code ignored;
  std::filesystem::remove_all(shared_dir_, ignored);
}

std::vector<std::string> ProbeRunner::Run(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = wrapper;
  argv.push_back(probe);
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions options;
  options.environment = env;
  if (preload_hook) options.environment["LD_PRELOAD"] = FLEXAI_HOOK_LIBRARY;
  if (!also_preload.empty()) options.environment["LD_PRELOAD"] += " " + also_preload;
  options.timeout = std::chrono::seconds(60);
  Result<CommandResult> result = RunCommand(argv, options);
  std::vector<std::string> lines;
  if (!result.ok()) return {"error " + result.error().message};
  std::istringstream output(result->output);
  for (std::string line; std::getline(output, line);) lines.push_back(line);
  if (result->exit_code != 0) lines.push_back("exit " + std::to_string(result->exit_code));
  return lines;
}

bool HasLine(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace flexai::isolation::testing
