// The device plugin's reader of usage.bin: parses what the hook writes, rejects anything else
// with a message that says what is wrong.
#include "isolation/usage_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "isolation/hook/shared_usage.h"
#include "isolation/usage_layout.h"

namespace flexai::isolation {
namespace {

class UsageReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "flexai-reader-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string ReadBytes() {
    std::ifstream file(dir_ + "/usage.bin", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  }
  std::string dir_;
};

TEST_F(UsageReaderTest, ReadsWhatTheHookWrote) {
  HookConfig config;
  config.shared_dir = dir_;
  config.memory_limited = true;
  config.memory_bytes = {4096ULL << 20, kUnlimitedBytes};
  config.cores_limited = true;
  config.cores_percent = {30, 100};
  std::string warning;
  auto usage = SharedUsage::Open(config, warning);
  ASSERT_TRUE(usage->Reserve(1, 123, true));
  usage->RecordLaunches(0, 1, 5000, 1);

  Result<UsageSnapshot> snapshot = ReadUsageFile(dir_ + "/usage.bin");
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->version, 1u);
  EXPECT_EQ(snapshot->mode, "hook");
  ASSERT_EQ(snapshot->devices.size(), 2u);
  EXPECT_EQ(snapshot->devices[0].limit_bytes, 4096ULL << 20);
  EXPECT_EQ(snapshot->devices[0].cores_percent, 30u);
  EXPECT_EQ(snapshot->devices[0].launches_total, 1u);
  EXPECT_EQ(snapshot->devices[0].busy_ns_total, 5000u);
  EXPECT_EQ(snapshot->devices[1].limit_bytes, kUnlimitedBytes);
  EXPECT_EQ(snapshot->devices[1].used_bytes, 123u);
  ASSERT_EQ(snapshot->processes.size(), 1u);
  EXPECT_EQ(snapshot->processes[0].pid, getpid());
  EXPECT_EQ(snapshot->processes[0].used_bytes, (std::vector<std::uint64_t>{0, 123}));
}

TEST_F(UsageReaderTest, RejectsAFileWithoutTheMagic) {
  std::string bytes(kUsageFileBytes, '\0');
  Result<UsageSnapshot> snapshot = ParseUsage(bytes);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("FLXUSAGE"), std::string::npos);
}

TEST_F(UsageReaderTest, RejectsAnotherVersion) {
  std::string bytes(kUsageFileBytes, '\0');
  std::memcpy(bytes.data(), kUsageMagic, sizeof(kUsageMagic));
  std::uint32_t version = 2;
  std::memcpy(bytes.data() + 8, &version, sizeof(version));
  Result<UsageSnapshot> snapshot = ParseUsage(bytes);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("version 2"), std::string::npos);
}

TEST_F(UsageReaderTest, RejectsATruncatedFile) { EXPECT_FALSE(ParseUsage("FLXUSAGE").ok()); }

TEST_F(UsageReaderTest, MissingFileNamesThePath) {
  Result<UsageSnapshot> snapshot = ReadUsageFile(dir_ + "/absent.bin");
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.error().message.find("absent.bin"), std::string::npos);
}

}  // namespace
}  // namespace flexai::isolation
