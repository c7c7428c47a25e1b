// The ListAndWatch stream on a writer of the test's own: what the daemon logs when kubelet could
// not take the list (over gRPC's 4 MiB default) and when a write fails.
#include "device_plugin/device_plugin_service.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "device_plugin/backend/sim/sim_backend.h"
#include "log_capture.h"

namespace flexai::device_plugin {
namespace {

using testing::LogCapture;

class RecordingWriter final : public grpc::ServerWriterInterface<v1beta1::ListAndWatchResponse> {
 public:
  explicit RecordingWriter(bool accept) : accept_(accept) {}
  void SendInitialMetadata() override {}
  bool Write(const v1beta1::ListAndWatchResponse& list, grpc::WriteOptions) override {
    sizes.push_back(list.ByteSizeLong());
    return accept_;
  }
  using grpc::internal::WriterInterface<v1beta1::ListAndWatchResponse>::Write;

  std::vector<size_t> sizes;

 private:
  const bool accept_;
};

// `count` Ascend chips (their UUIDs are longer than NVIDIA's), on two NUMA nodes.
std::vector<partition::Chip> Chips(int count) {
  std::vector<partition::Chip> chips;
  for (int i = 0; i < count; ++i) {
    partition::Chip chip;
    chip.vendor = partition::Vendor::kAscend;
    chip.index = i;
    char uuid[64];
    std::snprintf(uuid, sizeof uuid, "Ascend-%08x-1f2e3d4c-5b6a7988-0123abcd-%08x", i, i);
    chip.uuid = uuid;
    chip.memory_mib = 81559;
    chip.numa_node = i % 2;
    chips.push_back(chip);
  }
  return chips;
}

class StreamTest : public ::testing::Test {
 protected:
  void Serve(int chips, int max_slices) {
    inventory_ = std::make_unique<ChipInventory>(partition::Vendor::kAscend, Chips(chips));
    PluginSettings settings;
    settings.max_slices_per_chip = max_slices;
    auto store = std::make_shared<SettingsStore>(settings);
    allocator_ = std::make_unique<Allocator>("n1", *inventory_, backend_, store, nullptr);
    service_ = std::make_unique<DevicePluginService>(*inventory_, *allocator_, store);
  }

  SimBackend backend_{"", "n1"};
  std::unique_ptr<ChipInventory> inventory_;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<DevicePluginService> service_;
};

// 64 chips (the most a node may report) at 1024 slices (the policy's most): 65,536 devices with
// Ascend's long UUIDs are over 4 MiB.
TEST_F(StreamTest, AListKubeletCannotTakeIsAnErrorSayingWhatToChange) {
  Serve(64, 1024);
  LogCapture log;
  RecordingWriter writer(true);
  service_->StreamDeviceLists(writer, [] { return true; });
  ASSERT_EQ(writer.sizes.size(), 1u);
  EXPECT_GT(writer.sizes[0], 4u * 1024 * 1024);
  EXPECT_EQ(log.Count(spdlog::level::err,
                      "(65536 devices: 64 chips x 1024 slices), more than the 4 MiB kubelet "
                      "accepts: kubelet gets no devices at all; set the policy's "
                      "sharing.maxSlicesPerChip (or the node override's) to 885 or less"),
            1)
      << log.All();
  // The number it names fits.
  Serve(64, 885);
  RecordingWriter fitting(true);
  service_->StreamDeviceLists(fitting, [] { return true; });
  ASSERT_EQ(fitting.sizes.size(), 1u);
  EXPECT_LE(fitting.sizes[0], 4u * 1024 * 1024);
  EXPECT_EQ(log.Count(spdlog::level::err, "the device list"), 1) << log.All();
}

TEST_F(StreamTest, AListThatFitsLogsNoError) {
  Serve(16, 1024);  // the largest Ascend box
  LogCapture log;
  RecordingWriter writer(true);
  service_->StreamDeviceLists(writer, [] { return true; });
  ASSERT_EQ(writer.sizes.size(), 1u);
  EXPECT_EQ(log.Count(spdlog::level::err, ""), 0) << log.All();
}

TEST_F(StreamTest, AFailedWriteIsAWarningAndEndsTheStream) {
  Serve(4, 10);
  LogCapture log;
  RecordingWriter writer(false);
  service_->StreamDeviceLists(writer, [] { return false; });  // returns: the write failed
  EXPECT_EQ(writer.sizes.size(), 1u);
  EXPECT_EQ(log.Count(spdlog::level::warn,
                      "sending the device list for flexai.io/gpu to kubelet failed (the stream "
                      "was closed or broke)"),
            1)
      << log.All();
}

}  // namespace
}  // namespace flexai::device_plugin
