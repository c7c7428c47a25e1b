// HostPidService: each GPU folder's socket tells a connecting process its PID as the service's PID
// namespace sees it (the host's, when the device plugin runs with hostPID).
#include "device_plugin/host_pid_service.h"

#include "host_pid_ask.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace flexai::device_plugin {
namespace {

namespace fs = std::filesystem;

using testing::AskHostPid;

class HostPidServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/flexai-hostpid-XXXXXX";
    root_ = mkdtemp(pattern);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string Socket(const std::string& folder) const {
    return root_ + "/" + folder + "/.host-pid.sock";
  }
  std::string root_;
};

TEST_F(HostPidServiceTest, EachFolderAnswersAConnectingProcessWithItsPid) {
  fs::create_directory(root_ + "/activity-GPU-a");
  auto service = HostPidService::Start({root_ + "/activity-GPU-a", root_ + "/activity-GPU-b"});
  ASSERT_TRUE(service.ok()) << service.error().message;
  // This test and the service share a PID namespace: the answer is our own PID.
  const std::string expected = std::to_string(getpid()) + "\n";
  EXPECT_EQ(AskHostPid(Socket("activity-GPU-a")), expected);
  EXPECT_EQ(AskHostPid(Socket("activity-GPU-b")), expected);  // the missing folder was made, 0755
  struct stat info {};
  ASSERT_EQ(stat((root_ + "/activity-GPU-b").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0755u);
  ASSERT_EQ(stat(Socket("activity-GPU-b").c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0666u);  // any container user may connect
}

TEST_F(HostPidServiceTest, ALeftoverAtTheSocketPathIsReplacedAndTheSocketGoesAtStop) {
  fs::create_directory(root_ + "/activity-GPU-a");
  std::ofstream(Socket("activity-GPU-a")) << "stale";
  {
    auto service = HostPidService::Start({root_ + "/activity-GPU-a"});
    ASSERT_TRUE(service.ok()) << service.error().message;
    EXPECT_EQ(AskHostPid(Socket("activity-GPU-a")), std::to_string(getpid()) + "\n");
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(Socket("activity-GPU-a"))));
  EXPECT_EQ(AskHostPid(Socket("activity-GPU-a")), "no connection");
}

TEST_F(HostPidServiceTest, AStoppingServiceLeavesItsSuccessorsSocket) {
  // A rolling update may start the next device plugin before this one is gone.
  auto first = HostPidService::Start({root_ + "/activity-GPU-a"});
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = HostPidService::Start({root_ + "/activity-GPU-a"});
  ASSERT_TRUE(second.ok()) << second.error().message;
  first->reset();
  EXPECT_EQ(AskHostPid(Socket("activity-GPU-a")), std::to_string(getpid()) + "\n");
}

TEST_F(HostPidServiceTest, AFolderThatCannotTakeASocketIsAnError) {
  std::string too_long = root_ + "/" + std::string(120, 'x');
  auto service = HostPidService::Start({too_long});
  ASSERT_FALSE(service.ok());
  EXPECT_NE(service.error().message.find("too long"), std::string::npos) << service.error().message;
}

}  // namespace
}  // namespace flexai::device_plugin
