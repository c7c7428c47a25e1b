// RunCommand starts helper daemons (the MPS control daemon): they must not inherit the device
// plugin's blocked stop signals or its ignored SIGPIPE, or `kill` could not stop them.
#include "isolation/process_runner.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <string>

namespace flexai::isolation {
namespace {

// The hex mask of a "SigBlk:"/"SigIgn:" line of /proc/<pid>/status.
unsigned long long Mask(const std::string& status, const std::string& field) {
  auto at = status.find(field + ":");
  if (at == std::string::npos) return ~0ULL;
  return std::strtoull(status.c_str() + at + field.size() + 1, nullptr, 16);
}

TEST(RunCommand, TheChildStartsWithNoBlockedOrIgnoredStopSignals) {
  sigset_t stop, previous;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &previous);  // as the daemon's main() does
  auto old_pipe = signal(SIGPIPE, SIG_IGN);      // as gRPC does
  auto result = RunCommand({"cat", "/proc/self/status"}, CommandOptions{});
  signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(result.ok()) << result.error().message;
  const auto bit = [](int signal) { return 1ULL << (signal - 1); };
  EXPECT_EQ(Mask(result->output, "SigBlk") & (bit(SIGINT) | bit(SIGTERM)), 0u) << result->output;
  EXPECT_EQ(Mask(result->output, "SigIgn") & bit(SIGPIPE), 0u) << result->output;
}

}  // namespace
}  // namespace flexai::isolation
