#include "device_plugin/mps_shared_memory.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

namespace fs = std::filesystem;

TEST(MpsSharedMemory, ADevShmMountedFromTheSharedFolderIsAccepted) {
  testing::TempDir dir;
  const std::string shared = dir.File("mps/shm");
  fs::create_directories(shared);
  fs::create_directory_symlink(shared, dir.File("dev-shm"));  // stands in for the bind mount
  Status status = PrepareMpsSharedMemory(shared, dir.File("dev-shm"));
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST(MpsSharedMemory, APrivateDevShmIsAnErrorThatSaysWhatToMount) {
  testing::TempDir dir;
  fs::create_directories(dir.File("private-shm"));
  const std::string shared = dir.File("mps/shm");
  Status status = PrepareMpsSharedMemory(shared, dir.File("private-shm"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("devicePlugin.mps.enabled"), std::string::npos);
  // The folder containers mount is made anyway, writable by every user like /dev/shm.
  ASSERT_TRUE(fs::is_directory(shared));
  fs::perms perms = fs::status(shared).permissions();
  EXPECT_EQ(perms & fs::perms::others_write, fs::perms::others_write);
  EXPECT_EQ(perms & fs::perms::sticky_bit, fs::perms::sticky_bit);
}

}  // namespace
}  // namespace flexai::device_plugin
