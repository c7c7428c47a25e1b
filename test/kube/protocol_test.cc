#include <gtest/gtest.h>

#include "kube/protocol.h"
#include "kube/time_format.h"

namespace flexai::kube {
namespace {

TEST(InventoryCodec, RoundTripsEveryChipField) {
  NodeInventory inv;
  partition::Chip a;
  a.vendor = partition::Vendor::kNvidia;
  a.index = 0;
  a.uuid = "GPU-aaaa";
  a.model = "H100";
  a.memory_mib = 81559;
  a.numa_node = 1;
  a.link_group = 0;
  a.cpu_affinity = "0-31,64-95";
  partition::Chip b = a;
  b.index = 1;
  b.uuid = "GPU-bbbb";
  b.health = partition::Health::kUnhealthy;
  inv.chips = {b, a};  // out of order on purpose: decode sorts by index
  auto decoded = DecodeInventory(EncodeInventory(inv));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->chips.size(), 2u);
  EXPECT_EQ(decoded->chips[0].uuid, "GPU-aaaa");
  EXPECT_EQ(decoded->chips[0].memory_mib, 81559);
  EXPECT_EQ(decoded->chips[0].numa_node, 1);
  EXPECT_EQ(decoded->chips[0].cpu_affinity, "0-31,64-95");
  EXPECT_EQ(decoded->chips[0].vendor, partition::Vendor::kNvidia);
  EXPECT_EQ(decoded->chips[1].health, partition::Health::kUnhealthy);
}

TEST(InventoryCodec, ErrorsNameTheBadField) {
  auto r = DecodeInventory(R"({"chips":[{"index":0,"uuid":"GPU-1","memoryMiB":"lots"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chips[0].memoryMiB"), std::string::npos);
}

TEST(InventoryCodec, CpusIsOptionalButMustBeACpuList) {
  auto old = DecodeInventory(R"({"chips":[{"index":0,"uuid":"A","memoryMiB":1}]})");
  ASSERT_TRUE(old.ok()) << old.error().message;  // inventories from before the field
  EXPECT_EQ(old->chips[0].cpu_affinity, "");
  for (const char* bad : {R"("0-")", R"("3-1")", R"("a")", R"("0,,1")", R"("0,")", R"(7)"}) {
    auto r = DecodeInventory(
        std::string(R"({"chips":[{"index":0,"uuid":"A","memoryMiB":1,"cpus":)") + bad + "}]}");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("chips[0].cpus: not a CPU list"), std::string::npos)
        << r.error().message;
  }
}

TEST(InventoryCodec, RefusesDuplicateUuidsGapsAndGarbage) {
  EXPECT_FALSE(DecodeInventory(R"({"chips":[{"index":0,"uuid":"A","memoryMiB":1},
                                            {"index":1,"uuid":"A","memoryMiB":1}]})")
                   .ok());
  EXPECT_FALSE(DecodeInventory(R"({"chips":[{"index":1,"uuid":"A","memoryMiB":1}]})").ok());
  EXPECT_FALSE(DecodeInventory("not json").ok());
  EXPECT_FALSE(DecodeInventory("[]").ok());
  EXPECT_FALSE(DecodeInventory(R"({"chips":[{"index":0,"uuid":"A:B","memoryMiB":1}]})").ok());
  EXPECT_FALSE(
      DecodeInventory(R"({"chips":[{"index":0,"uuid":"A","memoryMiB":1,"health":"meh"}]})").ok());
}

TEST(LiveUsageCodec, RoundTripsChipsAndTheSampleTime) {
  NodeLiveUsage usage;
  usage.sampled_at = *ParseTime("2026-11-28T03:31:06Z");
  usage.chips = {
      {.index = 1, .uuid = "GPU-bbbb", .memory_used_mib = 0, .compute_used_percent = 0},
      {.index = 0, .uuid = "GPU-aaaa", .memory_used_mib = 3072, .compute_used_percent = 25.04}};
  std::string text = EncodeLiveUsage(usage);
  EXPECT_NE(text.find(R"("version":1)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("sampledAt":"2026-11-28T03:31:06Z")"), std::string::npos) << text;
  auto decoded = DecodeLiveUsage(text);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(FormatTime(decoded->sampled_at), "2026-11-28T03:31:06Z");
  ASSERT_EQ(decoded->chips.size(), 2u);
  EXPECT_EQ(decoded->chips[0].uuid, "GPU-aaaa");  // sorted by index
  EXPECT_EQ(decoded->chips[0].memory_used_mib, 3072);
  EXPECT_DOUBLE_EQ(decoded->chips[0].compute_used_percent, 25.0);  // 0.1 % steps
  EXPECT_EQ(decoded->chips[1].uuid, "GPU-bbbb");
}

TEST(LiveUsageCodec, RefusesMalformedValuesNamingTheField) {
  auto r = DecodeLiveUsage(R"({"sampledAt":"2026-11-28T03:31:06Z",
      "chips":[{"index":0,"uuid":"A","memoryUsedMiB":-1,"computeUsedPercent":0}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chips[0].memoryUsedMiB"), std::string::npos);
  EXPECT_FALSE(DecodeLiveUsage("{broken").ok());
  EXPECT_FALSE(DecodeLiveUsage(R"({"chips":[]})").ok());  // no sampledAt
  EXPECT_FALSE(DecodeLiveUsage(R"({"sampledAt":"yesterday","chips":[]})").ok());
  EXPECT_FALSE(
      DecodeLiveUsage(R"({"version":2,"sampledAt":"2026-11-28T03:31:06Z","chips":[]})").ok());
  EXPECT_FALSE(DecodeLiveUsage(R"({"sampledAt":"2026-11-28T03:31:06Z",
      "chips":[{"index":0,"uuid":"A","memoryUsedMiB":1,"computeUsedPercent":"busy"}]})")
                   .ok());
  EXPECT_FALSE(DecodeLiveUsage(R"({"sampledAt":"2026-11-28T03:31:06Z",
      "chips":[{"index":0,"uuid":"A","memoryUsedMiB":1,"computeUsedPercent":1},
               {"index":0,"uuid":"B","memoryUsedMiB":1,"computeUsedPercent":1}]})")
                   .ok());
  EXPECT_TRUE(DecodeLiveUsage(R"({"sampledAt":"2026-11-28T03:31:06Z","chips":[]})").ok());
}

// Values that cannot be real (a chip not in the inventory, more memory than the chip has, more
// than 100 % of its time) are what the device plugin's own clamp would never publish.
TEST(LiveUsageCodec, FitKeepsOnlyInventoryChipsWithinTheirLimits) {
  auto usage = DecodeLiveUsage(R"({"sampledAt":"2026-11-28T03:31:06Z","chips":[
      {"index":0,"uuid":"GPU-a","memoryUsedMiB":99999999,"computeUsedPercent":1e308},
      {"index":1,"uuid":"GPU-b","memoryUsedMiB":100,"computeUsedPercent":250},
      {"index":2,"uuid":"GPU-c","memoryUsedMiB":100,"computeUsedPercent":5},
      {"index":3,"uuid":"GPU-x","memoryUsedMiB":1,"computeUsedPercent":1},
      {"index":7,"uuid":"GPU-zzz","memoryUsedMiB":1,"computeUsedPercent":1}]})");
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  std::vector<partition::Chip> chips(4);
  for (int i = 0; i < 4; ++i) {
    chips[static_cast<size_t>(i)].index = i;
    chips[static_cast<size_t>(i)].uuid = std::string("GPU-") + "abcd"[i];
    chips[static_cast<size_t>(i)].memory_mib = 16384;
  }
  std::vector<std::string> changes = FitLiveUsage(*usage, chips);
  ASSERT_EQ(usage->chips.size(), 3u);  // GPU-x is not chip 3's uuid; chip 7 does not exist
  EXPECT_EQ(usage->chips[0].memory_used_mib, 16384);
  EXPECT_DOUBLE_EQ(usage->chips[0].compute_used_percent, 100);
  EXPECT_DOUBLE_EQ(usage->chips[1].compute_used_percent, 100);
  EXPECT_EQ(usage->chips[2].memory_used_mib, 100);
  EXPECT_DOUBLE_EQ(usage->chips[2].compute_used_percent, 5);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_NE(changes[4].find("GPU-zzz"), std::string::npos) << changes[4];
  EXPECT_EQ(changes[4].find("99999999"), std::string::npos);  // no values: stable across samples
  EXPECT_TRUE(FitLiveUsage(*usage, chips).empty());           // nothing left to fix
}

TEST(TimeFormat, ParsesWhatItFormats) {
  auto t = ParseTime("2024-05-01T12:30:45Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTime(*t), "2024-05-01T12:30:45Z");
  auto micro = ParseTime("2024-05-01T12:30:45.123456Z");
  ASSERT_TRUE(micro.has_value());
  EXPECT_EQ(FormatMicroTime(*micro), "2024-05-01T12:30:45.123456Z");
}

TEST(TimeFormat, HonoursOffsetsAndRefusesGarbage) {
  auto t = ParseTime("2024-05-01T14:30:45+02:00");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTime(*t), "2024-05-01T12:30:45Z");
  EXPECT_FALSE(ParseTime("yesterday").has_value());
  EXPECT_FALSE(ParseTime("2024-05-01 12:30:45Z").has_value());
  EXPECT_FALSE(ParseTime("2024-05-01T12:30:45").has_value());
  EXPECT_FALSE(ParseTime("2024-13-01T12:30:45Z").has_value());
}

}  // namespace
}  // namespace flexai::kube
