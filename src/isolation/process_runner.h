// Runs a helper program (the MPS control binary) with extra environment, text on stdin and a
// time limit, without waiting for daemons it leaves behind to close their output.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::isolation {

struct CommandOptions {
  std::map<std::string, std::string> environment;  // added to (and overriding) ours
  std::vector<std::string> unset_environment;      // of ours, left out
  std::string stdin_text;
  std::string output_path;  // when set, stdout and stderr are appended there instead of captured
  std::chrono::milliseconds timeout{5000};
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed for the timeout or by a signal
  bool timed_out = false;
  std::string output;  // stdout and stderr together, when captured
};

// Fails only when the program could not be started at all.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options);

}  // namespace flexai::isolation
