// MPS daemons per GPU, supervised: started with their own directories, restarted when they die,
// stopped on request, failures reported. Uses a fake control script instead of the NVIDIA binary.
#include "isolation/mps_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "isolation/mps_client_env.h"

namespace flexai::isolation {
namespace {

class MpsSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "flexai-mps-XXXXXX").string();
    base_dir_ = mkdtemp(pattern.data());
    options_.control_binary = FLEXAI_FAKE_MPS_CONTROL;
    options_.base_dir = base_dir_;
    options_.command_timeout = std::chrono::seconds(10);
  }
  void TearDown() override {
    if (supervisor_) supervisor_->StopAll();
    std::filesystem::remove_all(base_dir_);
  }
  MpsSupervisor& Make(std::vector<std::string> gpus) {
    supervisor_ = std::make_unique<MpsSupervisor>(options_, std::move(gpus));
    return *supervisor_;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream file(path);
    std::string text;
    std::getline(file, text);
    return text;
  }
  static bool DaemonIsDead(int pid) {
    std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    return stat.empty() || stat.find(") Z") != std::string::npos;
  }
  static int DaemonPid(const MpsDaemonStatus& status) {
    std::string pid = ReadFile(status.pipe_dir + "/fake-daemon.pid");
    return pid.empty() ? -1 : std::stoi(pid);
  }

  std::string base_dir_;
  MpsSupervisorOptions options_;
  std::unique_ptr<MpsSupervisor> supervisor_;
};

TEST_F(MpsSupervisorTest, StartsOneDaemonPerGpuWithItsOwnDirectories) {
  MpsSupervisor& supervisor = Make({"GPU-aaaa", "GPU-bbbb"});
  Status started = supervisor.StartAll();
  ASSERT_TRUE(started.ok()) << started.message();
  std::vector<MpsDaemonStatus> statuses = supervisor.Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  for (const MpsDaemonStatus& status : statuses) {
    EXPECT_EQ(status.state, MpsDaemonState::kRunning) << status.gpu;
    EXPECT_EQ(status.pipe_dir, base_dir_ + "/" + status.gpu + "/pipe");
    EXPECT_EQ(ReadFile(status.pipe_dir + "/visible-devices"), status.gpu);
    EXPECT_EQ(ReadFile(status.pipe_dir + "/log-directory"), base_dir_ + "/" + status.gpu + "/log");
    // The server runs as its client's user: pods that are not root must be able to write there.
    for (const std::string& dir : {status.pipe_dir, base_dir_ + "/" + status.gpu + "/log"}) {
      EXPECT_EQ(std::filesystem::status(dir).permissions() & std::filesystem::perms::all,
                std::filesystem::perms::all)
          << dir;
    }
  }
  EXPECT_NE(DaemonPid(statuses[0]), DaemonPid(statuses[1]));
  EXPECT_EQ(supervisor.PipeDirectory("GPU-bbbb"), base_dir_ + "/GPU-bbbb/pipe");
}

TEST_F(MpsSupervisorTest, ANodeWideDaemonSeesEveryGpu) {
  MpsSupervisor& supervisor = Make({kAllGpus});
  ASSERT_TRUE(supervisor.StartAll().ok());
  EXPECT_EQ(ReadFile(supervisor.PipeDirectory(kAllGpus) + "/visible-devices"), "");
}

TEST_F(MpsSupervisorTest, RestartsADaemonThatDied) {
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  int first_pid = DaemonPid(supervisor.Statuses()[0]);
  ASSERT_GT(first_pid, 0);
  kill(first_pid, SIGKILL);
  // Until the kill has landed: the daemon is gone or a zombie (which the fake counts as dead).
  for (int i = 0; i < 500 && !DaemonIsDead(first_pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  supervisor.Check();
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kRunning);
  EXPECT_EQ(status.restarts, 1u);
  EXPECT_NE(DaemonPid(status), first_pid);
}

// A daemon that hangs holds Check() for up to the command timeout; the metrics read Statuses()
// meanwhile and must get the last known state instead of waiting (a bound against hangs only).
TEST_F(MpsSupervisorTest, StatusesDoNotWaitForAProbeThatHangs) {
  const std::string hang = base_dir_ + "/hang";
  options_.extra_environment["FAKE_MPS_HANG"] = hang;
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  std::ofstream(hang) << "";
  auto check = std::async(std::launch::async, [&] { supervisor.Check(); });
  for (int i = 0; i < 1000 && !std::filesystem::exists(hang + ".started"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(std::filesystem::exists(hang + ".started"));
  auto statuses = std::async(std::launch::async, [&] { return supervisor.Statuses(); });
  auto pipe = std::async(std::launch::async, [&] { return supervisor.PipeDirectory("GPU-aaaa"); });
  bool answered = statuses.wait_for(std::chrono::seconds(5)) == std::future_status::ready &&
                  pipe.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  std::filesystem::remove(hang);  // lets the probe finish either way
  check.get();
  ASSERT_TRUE(answered) << "Statuses() waited for the hung probe";
  ASSERT_EQ(statuses.get().size(), 1u);
  EXPECT_EQ(pipe.get(), base_dir_ + "/GPU-aaaa/pipe");
}

TEST_F(MpsSupervisorTest, AHealthyDaemonIsLeftAlone) {
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  int pid = DaemonPid(supervisor.Statuses()[0]);
  supervisor.Check();
  ASSERT_TRUE(supervisor.StartAll().ok());  // adopts the running daemon
  EXPECT_EQ(DaemonPid(supervisor.Statuses()[0]), pid);
  EXPECT_EQ(supervisor.Statuses()[0].restarts, 0u);
}

TEST_F(MpsSupervisorTest, StopAllQuitsDaemonsAndCheckDoesNotRestartThem) {
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  supervisor.StopAll();
  supervisor.Check();
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kStopped);
  EXPECT_FALSE(std::filesystem::exists(status.pipe_dir + "/fake-daemon.pid"));
}

TEST_F(MpsSupervisorTest, AFailedStartIsReportedWithItsReason) {
  options_.extra_environment["FAKE_MPS_FAIL_START"] = "1";
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  Status started = supervisor.StartAll();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("exited with 1"), std::string::npos) << started.message();
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kFailed);
  EXPECT_EQ(status.last_error, started.message());
}

// A daemon that failed to start but answers later (started by hand, or its GPU came back) is
// reported running again, with no stale error.
TEST_F(MpsSupervisorTest, AFailedDaemonThatAnswersLaterIsRunningAgain) {
  options_.extra_environment["FAKE_MPS_FAIL_START"] = "1";
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  EXPECT_FALSE(supervisor.StartAll().ok());
  ASSERT_EQ(supervisor.Statuses()[0].state, MpsDaemonState::kFailed);
  const std::string pipe = supervisor.Statuses()[0].pipe_dir;
  const std::string start = "CUDA_MPS_PIPE_DIRECTORY=" + pipe + " CUDA_MPS_LOG_DIRECTORY=" + pipe +
                            " " + FLEXAI_FAKE_MPS_CONTROL + " -d";
  ASSERT_EQ(std::system(start.c_str()), 0);
  supervisor.Check();
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kRunning);
  EXPECT_EQ(status.last_error, "");
}

TEST_F(MpsSupervisorTest, AMissingControlBinaryIsReported) {
  options_.control_binary = base_dir_ + "/no-such-mps-control";
  Status started = Make({"GPU-aaaa"}).StartAll();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("cannot run"), std::string::npos) << started.message();
}

TEST_F(MpsSupervisorTest, AfterAFailedRestartTheNextWaitsInsteadOfRetryingEveryCheck) {
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  kill(DaemonPid(supervisor.Statuses()[0]), SIGKILL);
  // A file where its pipe directory was: every restart fails.
  std::filesystem::remove_all(base_dir_ + "/GPU-aaaa/pipe");
  std::ofstream(base_dir_ + "/GPU-aaaa/pipe") << "";
  supervisor.Check();
  supervisor.Check();
  supervisor.Check();
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kFailed);
  EXPECT_EQ(status.restarts, 1u);  // not one per check: the next try is 5 s later
}

TEST_F(MpsSupervisorTest, AHungDaemonIsNeverJoinedByASecondOneOnItsPipes) {
  const std::string hang = base_dir_ + "/hang";
  options_.extra_environment["FAKE_MPS_HANG"] = hang;
  options_.command_timeout = std::chrono::milliseconds(300);
  MpsSupervisor& supervisor = Make({"GPU-aaaa"});
  ASSERT_TRUE(supervisor.StartAll().ok());
  const int pid = DaemonPid(supervisor.Statuses()[0]);
  std::ofstream(hang) << "";
  supervisor.Check();
  std::filesystem::remove(hang);
  MpsDaemonStatus status = supervisor.Statuses()[0];
  EXPECT_EQ(status.state, MpsDaemonState::kFailed);
  EXPECT_NE(status.last_error.find("is hung"), std::string::npos) << status.last_error;
  EXPECT_EQ(DaemonPid(status), pid);  // no second `-d`
}

// The device plugin's view when the daemons live in another container (which a restart of the
// plugin's container must not take down): it reports them, but never starts, restarts or quits.
TEST_F(MpsSupervisorTest, AWatcherReportsAnotherProcesssDaemonsButNeverStartsOrQuitsThem) {
  MpsSupervisor& runner = Make({"GPU-aaaa"});
  MpsSupervisorOptions watching = options_;
  watching.run_daemons = false;
  MpsSupervisor watcher(watching, {"GPU-aaaa", "GPU-bbbb"});
  Status watched = watcher.StartAll();
  ASSERT_FALSE(watched.ok());  // nothing runs yet, and the watcher starts nothing
  EXPECT_NE(watched.message().find("mps-control container"), std::string::npos)
      << watched.message();
  EXPECT_FALSE(std::filesystem::exists(base_dir_ + "/GPU-aaaa"));
  EXPECT_EQ(watcher.Statuses()[0].state, MpsDaemonState::kFailed);

  ASSERT_TRUE(runner.StartAll().ok());
  const int pid = DaemonPid(runner.Statuses()[0]);
  watcher.Check();
  EXPECT_EQ(watcher.Statuses()[0].state, MpsDaemonState::kRunning);
  EXPECT_EQ(watcher.Statuses()[0].last_error, "");
  EXPECT_EQ(watcher.Statuses()[1].state, MpsDaemonState::kFailed);
  EXPECT_FALSE(std::filesystem::exists(base_dir_ + "/GPU-bbbb"));

  kill(pid, SIGKILL);
  for (int i = 0; i < 500 && !DaemonIsDead(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  watcher.Check();
  MpsDaemonStatus seen = watcher.Statuses()[0];
  EXPECT_EQ(seen.state, MpsDaemonState::kFailed);
  EXPECT_EQ(seen.restarts, 0u);
  EXPECT_EQ(DaemonPid(seen), pid);  // not restarted by the watcher

  runner.Check();  // the runner restarts it, the watcher sees it again
  const int restarted = DaemonPid(runner.Statuses()[0]);
  ASSERT_NE(restarted, pid);
  watcher.Check();
  EXPECT_EQ(watcher.Statuses()[0].state, MpsDaemonState::kRunning);

  watcher.StopAll();
  EXPECT_EQ(watcher.Statuses()[0].state, MpsDaemonState::kStopped);
  EXPECT_FALSE(DaemonIsDead(restarted));  // still serving its clients
  EXPECT_EQ(runner.Statuses()[0].state, MpsDaemonState::kRunning);
}

TEST(MpsClientEnvironmentTest, GivesThePipeAndTheLimitsMpsEnforces) {
  auto env = MpsClientEnvironment(
      {.pipe_dir = "/flexai/mps", .memory_limit_mib = 4096, .thread_percentage = 30});
  EXPECT_EQ(env.at("CUDA_MPS_PIPE_DIRECTORY"), "/flexai/mps");
  EXPECT_EQ(env.at("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=5120M");  // + context headroom
  EXPECT_EQ(env.at("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "30");
  EXPECT_EQ(env.at("FLEXAI_ISOLATION"), "mps");
}

TEST(MpsClientEnvironmentTest, AMemoryOnlySliceGetsNoThreadLimit) {
  auto env =
      MpsClientEnvironment({.pipe_dir = "/p", .memory_limit_mib = 2048, .thread_percentage = 0});
  EXPECT_EQ(env.count("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), 0u);
  EXPECT_EQ(env.at("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=3072M");
}

TEST(MpsClientEnvironmentTest, NoMemoryLimitLeavesTheVariableOut) {
  auto env =
      MpsClientEnvironment({.pipe_dir = "/p", .memory_limit_mib = 0, .thread_percentage = 250});
  EXPECT_EQ(env.count("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), 0u);
  EXPECT_EQ(env.at("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "100");
}

}  // namespace
}  // namespace flexai::isolation
