// KubeletConnection with two instances on one plugin directory (a DaemonSet rolling update with
// maxSurge, a copy run by hand): the newest serves, the other stands by without touching its
// socket, and serves again once that socket goes away. Waits are for the watchers' passes, not
// for time.
#include "device_plugin/kubelet_connection.h"

#include <gtest/gtest.h>

#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::TempDir;
using testing::TestKubelet;

constexpr char kResource[] = "flexai.io/gpu";

// Says which instance answered, through the one flag of its options.
class NamedService final : public v1beta1::DevicePlugin::Service {
 public:
  explicit NamedService(bool old) : old_(old) {}
  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* response) override {
    response->set_pre_start_required(old_);
    return grpc::Status::OK;
  }

 private:
  const bool old_;
};

class TwoInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubelet_.Start();
    ASSERT_TRUE(old_.Start().ok());
    ASSERT_TRUE(kubelet_.WaitForRegistrations(1, 10s));
    ASSERT_TRUE(fresh_.Start().ok());  // takes the socket over, as a starting daemon does
    ASSERT_TRUE(kubelet_.WaitForRegistrations(2, 10s));
  }

  // "old", "new", or "" when nothing answers on our socket path.
  std::string WhoAnswers() const {
    auto channel = grpc::CreateChannel("unix://" + dir_.File("flexai-gpu.sock"),
                                       grpc::InsecureChannelCredentials());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    v1beta1::DevicePluginOptions options;
    auto stub = v1beta1::DevicePlugin::NewStub(channel);
    if (!stub->GetDevicePluginOptions(&context, {}, &options).ok()) return "";
    return options.pre_start_required() ? "old" : "new";
  }

  // Waits until neither instance has a takeover re-registration still to do.
  bool TakeoversSettled() {
    return Eventually([&] {
      return !old_.takeover_reregister_pending() && !fresh_.takeover_reregister_pending();
    });
  }

  // Waits until every running watcher has looked at the sockets a few more times.
  bool SeveralWatchPasses(std::vector<KubeletConnection*> connections) {
    std::vector<int> start;
    for (auto* c : connections) start.push_back(c->watch_passes());
    return Eventually([&] {
      for (size_t i = 0; i < connections.size(); ++i) {
        if (connections[i]->watch_passes() < start[i] + 3) return false;
      }
      return true;
    });
  }

  TempDir dir_;
  TestKubelet kubelet_{dir_.path()};
  NamedService old_service_{true};
  NamedService fresh_service_{false};
  KubeletConnection old_{dir_.path(), "flexai-gpu.sock", kResource, &old_service_};
  KubeletConnection fresh_{dir_.path(), "flexai-gpu.sock", kResource, &fresh_service_};
};

TEST_F(TwoInstancesTest, TheNewestServesAndTheOtherStandsByWithoutFighting) {
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  EXPECT_TRUE(old_.standing_by());
  EXPECT_FALSE(old_.registered());
  EXPECT_TRUE(fresh_.registered());
  EXPECT_EQ(WhoAnswers(), "new");
  // Neither took the socket back: each served once. The newest registered twice: once on start,
  // once after the other's stream ended (kubelet drops the resource on that end, by name).
  ASSERT_TRUE(TakeoversSettled());
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  EXPECT_EQ(old_.serve_count(), 1);
  EXPECT_EQ(fresh_.serve_count(), 1);
  EXPECT_TRUE(fresh_.registered());
  ASSERT_EQ(kubelet_.registrations().size(), 3u);
  EXPECT_EQ(kubelet_.registrations()[2].endpoint(), "flexai-gpu.sock");
}

TEST_F(TwoInstancesTest, StoppingTheStandByInstanceLeavesTheOtherSocketServed) {
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  ASSERT_TRUE(TakeoversSettled());
  old_.Stop();  // the old pod of a rolling update ends
  EXPECT_EQ(WhoAnswers(), "new");
  ASSERT_TRUE(SeveralWatchPasses({&fresh_}));
  EXPECT_EQ(WhoAnswers(), "new");
  EXPECT_EQ(fresh_.serve_count(), 1);
  EXPECT_TRUE(fresh_.registered());
  EXPECT_EQ(kubelet_.registrations().size(), 3u);
}

TEST_F(TwoInstancesTest, TheStandByInstanceServesAgainOnceTheOtherStops) {
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  ASSERT_TRUE(TakeoversSettled());
  fresh_.Stop();  // the copy run by hand ends: its socket goes away
  ASSERT_TRUE(kubelet_.WaitForRegistrations(4, 10s));
  EXPECT_TRUE(Eventually([&] { return old_.registered(); }));
  EXPECT_FALSE(old_.standing_by());
  EXPECT_EQ(old_.serve_count(), 2);
  EXPECT_EQ(WhoAnswers(), "old");
}

TEST_F(TwoInstancesTest, AfterAKubeletRestartOneServesAndTheOtherStandsBy) {
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  kubelet_.Restart();  // removes the socket: both see it gone and serve; the later one wins
  ASSERT_TRUE(kubelet_.WaitForRegistrations(3, 10s));
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  ASSERT_NE(old_.standing_by(), fresh_.standing_by());
  ASSERT_TRUE(TakeoversSettled());
  KubeletConnection& serving = old_.standing_by() ? fresh_ : old_;
  EXPECT_TRUE(serving.registered());
  EXPECT_EQ(WhoAnswers(), &serving == &old_ ? "old" : "new");
  const int serves = old_.serve_count() + fresh_.serve_count();
  const size_t registrations = kubelet_.registrations().size();
  ASSERT_TRUE(SeveralWatchPasses({&old_, &fresh_}));
  EXPECT_EQ(old_.serve_count() + fresh_.serve_count(), serves);  // settled: no more takeovers
  EXPECT_EQ(kubelet_.registrations().size(), registrations);
}

TEST(KubeletConnection, AMissingPluginDirectoryIsOneClearError) {
  NamedService service{false};
  KubeletConnection connection("/nonexistent/device-plugins", "flexai-gpu.sock", kResource,
                               &service);
  Status started = connection.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("device plugin directory /nonexistent/device-plugins does not "
                                   "exist"),
            std::string::npos)
      << started.message();
}

}  // namespace
}  // namespace flexai::device_plugin
