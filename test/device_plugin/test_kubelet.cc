#include "test_kubelet.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace flexai::device_plugin::testing {

TempDir::TempDir() {
  // Unix socket paths must stay under ~108 bytes: keep the directory short.
  char pattern[] = "/tmp/fxdp.XXXXXX";
  char* made = mkdtemp(pattern);
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

TestKubelet::TestKubelet(std::string dir) : dir_(std::move(dir)) {}

TestKubelet::~TestKubelet() { Shutdown(); }

void TestKubelet::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + dir_ + "/kubelet.sock", grpc::InsecureServerCredentials());
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

void TestKubelet::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }
}

void TestKubelet::Restart() {
  Shutdown();
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.is_socket()) std::filesystem::remove(entry.path());
  }
  Start();
}

grpc::Status TestKubelet::Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                                   v1beta1::Empty*) {
  {
    std::lock_guard lock(mu_);
    registrations_.push_back(*request);
  }
  registered_.notify_all();
  return grpc::Status::OK;
}

std::vector<v1beta1::RegisterRequest> TestKubelet::registrations() const {
  std::lock_guard lock(mu_);
  return registrations_;
}

bool TestKubelet::WaitForRegistrations(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return registered_.wait_for(lock, timeout, [&] { return registrations_.size() >= count; });
}

std::unique_ptr<v1beta1::DevicePlugin::Stub> TestKubelet::PluginStub() const {
  std::string endpoint;
  {
    std::lock_guard lock(mu_);
    if (!registrations_.empty()) endpoint = registrations_.back().endpoint();
  }
  auto channel =
      grpc::CreateChannel("unix://" + dir_ + "/" + endpoint, grpc::InsecureChannelCredentials());
  return v1beta1::DevicePlugin::NewStub(channel);
}

DeviceListWatcher::DeviceListWatcher(std::unique_ptr<v1beta1::DevicePlugin::Stub> stub)
    : stub_(std::move(stub)) {
  reader_ = std::thread([this] {
    v1beta1::Empty empty;
    auto reader = stub_->ListAndWatch(&context_, empty);
    v1beta1::ListAndWatchResponse response;
    while (reader->Read(&response)) {
      {
        std::lock_guard lock(mu_);
        lists_.push_back(response);
      }
      changed_.notify_all();
    }
    reader->Finish();
    {
      std::lock_guard lock(mu_);
      ended_ = true;
    }
    changed_.notify_all();
  });
}

DeviceListWatcher::~DeviceListWatcher() {
  context_.TryCancel();
  reader_.join();
}

std::optional<v1beta1::ListAndWatchResponse> DeviceListWatcher::WaitFor(
    const std::function<bool(const v1beta1::ListAndWatchResponse&)>& predicate,
    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<v1beta1::ListAndWatchResponse> found;
  changed_.wait_for(lock, timeout, [&] {
    if (!lists_.empty() && predicate(lists_.back())) found = lists_.back();
    return found.has_value() || ended_;
  });
  return found;
}

size_t DeviceListWatcher::received() const {
  std::lock_guard lock(mu_);
  return lists_.size();
}

bool DeviceListWatcher::ended() const {
  std::lock_guard lock(mu_);
  return ended_;
}

std::string ChipHealth(const v1beta1::ListAndWatchResponse& list, const std::string& chip_uuid) {
  std::string health;
  for (const auto& device : list.devices()) {
    if (device.id().rfind(chip_uuid + "::", 0) != 0) continue;
    if (!health.empty() && health != device.health()) return "mixed";
    health = device.health();
  }
  return health;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace flexai::device_plugin::testing
