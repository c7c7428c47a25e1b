#include "kube/config_file_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace flexai::kube {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ConfigFileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "flexai-watch-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A ConfigMap volume: <dir>/policy.yaml -> ..data/policy.yaml, ..data -> ..<version>.
  void Publish(const std::string& version, const std::string& text) {
    fs::create_directories(dir_ / (".." + version));
    std::ofstream(dir_ / (".." + version) / "policy.yaml") << text;
    fs::create_directory_symlink(".." + version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    if (!fs::is_symlink(fs::symlink_status(path()))) {
      fs::create_symlink("..data/policy.yaml", path());
    }
  }
  std::string path() const { return (dir_ / "policy.yaml").string(); }

  fs::path dir_;
  int changes_ = 0;
};

TEST_F(ConfigFileWatcherTest, ASwappedConfigMapVersionIsAChangeTheSameContentIsNot) {
  Publish("v1", "maxSlicesPerChip: 4\n");
  ConfigFileWatcher watcher(path(), 1h, [this] { ++changes_; });
  EXPECT_FALSE(watcher.CheckNow());  // the content at construction is the baseline
  Publish("v2", "maxSlicesPerChip: 2\n");
  EXPECT_TRUE(watcher.CheckNow());
  EXPECT_EQ(changes_, 1);
  Publish("v3", "maxSlicesPerChip: 2\n");  // a new version with the same content
  EXPECT_FALSE(watcher.CheckNow());
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigFileWatcherTest, AMissingOrEmptyFileIsNoChange) {
  Publish("v1", "a: 1\n");
  ConfigFileWatcher watcher(path(), 1h, [this] { ++changes_; });
  EXPECT_FALSE(watcher.missing());
  fs::remove(dir_ / "..v1" / "policy.yaml");
  EXPECT_FALSE(watcher.CheckNow());
  EXPECT_TRUE(watcher.missing());  // said in the log: the policy no longer follows the file
  std::ofstream(dir_ / "..v1" / "policy.yaml") << "";
  EXPECT_FALSE(watcher.CheckNow());
  EXPECT_FALSE(watcher.missing());
  EXPECT_EQ(changes_, 0);
}

TEST_F(ConfigFileWatcherTest, PollsOnItsOwnThreadUntilStopped) {
  Publish("v1", "a: 1\n");
  std::atomic<int> changes{0};
  ConfigFileWatcher watcher(path(), 20ms, [&] { ++changes; });
  watcher.Start();
  Publish("v2", "a: 2\n");
  for (int i = 0; i < 500 && changes == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(changes, 1);
  watcher.Stop();
  Publish("v3", "a: 3\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(changes, 1);
}

}  // namespace
}  // namespace flexai::kube
