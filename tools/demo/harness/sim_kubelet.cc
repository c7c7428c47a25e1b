#include "harness/sim_kubelet.h"

#include <filesystem>
#include <thread>

namespace flexai::e2e {
namespace {

// Allocate gets a short deadline and is repeated with the same devices when it passes (or the
// plugin is unreachable): an answer given up on while the plugin completes the pod must come back
// the same on the repeat, never as the next pod's assignment (the plugin recognises a repeat by
// its device IDs; docs/protocol.md).
constexpr auto kAllocateDeadline = std::chrono::seconds(5);
constexpr int kAllocateAttempts = 4;
constexpr auto kRpcDeadline = std::chrono::seconds(5);

void SetDeadline(grpc::ClientContext& context, std::chrono::seconds after = kRpcDeadline) {
  context.set_deadline(std::chrono::system_clock::now() + after);
}

// No answer came (deadline passed, plugin unreachable): kubelet sends the same request again.
bool Unanswered(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::UNAVAILABLE;
}

}  // namespace

SimKubelet::SimKubelet(std::string dir) : dir_(std::move(dir)) {}

SimKubelet::~SimKubelet() { Shutdown(); }

void SimKubelet::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + dir_ + "/kubelet.sock", grpc::InsecureServerCredentials());
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

void SimKubelet::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }
}

void SimKubelet::Restart() {
  Shutdown();
  {
    std::lock_guard lock(mu_);
    stub_.reset();
    endpoint_.clear();
    devices_fresh_ = false;
  }
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ignored)) {
    if (entry.is_socket(ignored)) std::filesystem::remove(entry.path(), ignored);
  }
  Start();
}

grpc::Status SimKubelet::Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                                  v1beta1::Empty*) {
  std::lock_guard lock(mu_);
  ++registrations_;
  endpoint_ = request->endpoint();
  resource_ = request->resource_name();
  stub_.reset();
  devices_fresh_ = false;
  return grpc::Status::OK;
}

int SimKubelet::registrations() const {
  std::lock_guard lock(mu_);
  return registrations_;
}

std::string SimKubelet::resource_name() const {
  std::lock_guard lock(mu_);
  return resource_;
}

std::shared_ptr<v1beta1::DevicePlugin::Stub> SimKubelet::Stub(std::string& error) {
  std::lock_guard lock(mu_);
  if (endpoint_.empty()) {
    error = "no device plugin registered with the kubelet";
    return nullptr;
  }
  if (!stub_) {
    auto channel =
        grpc::CreateChannel("unix://" + dir_ + "/" + endpoint_, grpc::InsecureChannelCredentials());
    stub_ = v1beta1::DevicePlugin::NewStub(channel);
  }
  return stub_;
}

bool SimKubelet::RefreshDevices(v1beta1::DevicePlugin::Stub& stub, std::string& error) {
  // The first ListAndWatch message is the full device list.
  grpc::ClientContext context;
  SetDeadline(context);
  v1beta1::Empty empty;
  auto reader = stub.ListAndWatch(&context, empty);
  v1beta1::ListAndWatchResponse list;
  if (!reader->Read(&list)) {
    context.TryCancel();
    error = "ListAndWatch: " + reader->Finish().error_message();
    return false;
  }
  context.TryCancel();
  std::vector<std::string> healthy;
  for (const auto& d : list.devices()) {
    if (d.health() == "Healthy") healthy.push_back(d.id());
  }
  std::lock_guard lock(mu_);
  healthy_devices_ = std::move(healthy);
  devices_fresh_ = true;
  return true;
}

bool SimKubelet::AllocateContainer(const std::string& owner, int count, ContainerGrant& grant,
                                   std::string& error) {
  auto stub = Stub(error);
  if (!stub) return false;
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    fresh = devices_fresh_;
  }
  if (!fresh && !RefreshDevices(*stub, error)) return false;

  std::vector<std::string> free;
  {
    std::lock_guard lock(mu_);
    for (const auto& id : healthy_devices_) {
      if (!used_.count(id)) free.push_back(id);
    }
  }
  if (static_cast<int>(free.size()) < count) {
    error = "kubelet: only " + std::to_string(free.size()) + " free devices, " +
            std::to_string(count) + " asked";
    return false;
  }
  // kubelet asks the plugin which devices it prefers, then takes those if they are valid.
  std::vector<std::string> chosen;
  {
    v1beta1::PreferredAllocationRequest request;
    auto* c = request.add_container_requests();
    for (const auto& id : free) c->add_available_deviceids(id);
    c->set_allocation_size(count);
    v1beta1::PreferredAllocationResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    if (stub->GetPreferredAllocation(&context, request, &response).ok() &&
        response.container_responses_size() == 1) {
      std::set<std::string> free_set(free.begin(), free.end());
      for (const auto& id : response.container_responses(0).deviceids()) {
        if (free_set.count(id)) chosen.push_back(id);
      }
    }
    if (static_cast<int>(chosen.size()) != count) {
      chosen.assign(free.begin(), free.begin() + count);
    }
  }
  v1beta1::AllocateRequest request;
  auto* c = request.add_container_requests();
  for (const auto& id : chosen) c->add_devices_ids(id);
  v1beta1::AllocateResponse response;
  grpc::Status status = CallAllocate(stub, request, response);
  if (!status.ok()) {
    error = "Allocate: " + status.error_message();
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::lock_guard lock(mu_);
      stub_.reset();  // reconnect next time (the plugin may have restarted)
      devices_fresh_ = false;
    }
    return false;
  }
  if (response.container_responses_size() != 1) {
    error = "Allocate: " + std::to_string(response.container_responses_size()) +
            " container responses for 1 request";
    return false;
  }
  grant.env.clear();
  for (const auto& [k, v] : response.container_responses(0).envs()) grant.env[k] = v;
  grant.device_ids = chosen;
  bool repeat = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& id : chosen) used_[id] = owner;
    repeat = repeat_every_ > 0 && ++answered_ % repeat_every_ == 0;
  }
  if (repeat) {
    v1beta1::AllocateResponse again;
    grpc::Status repeated = CallAllocate(stub, request, again);
    std::map<std::string, std::string> env;
    if (repeated.ok() && again.container_responses_size() == 1) {
      for (const auto& [k, v] : again.container_responses(0).envs()) env[k] = v;
    }
    std::lock_guard lock(mu_);
    if (Unanswered(repeated)) return true;  // no plugin to answer (restarting): nothing to compare
    ++repeated_;
    if (!repeated.ok()) {
      repeat_mismatches_.push_back(owner +
                                   ": repeated Allocate refused: " + repeated.error_message());
    } else if (env != grant.env) {
      auto visible = [](const std::map<std::string, std::string>& e) {
        auto it = e.find("FLEXAI_VISIBLE_DEVICES");
        return it == e.end() ? std::string("?") : it->second;
      };
      repeat_mismatches_.push_back(owner + ": repeated Allocate answered " + visible(env) +
                                   ", first answer " + visible(grant.env));
    }
  }
  return true;
}

grpc::Status SimKubelet::CallAllocate(std::shared_ptr<v1beta1::DevicePlugin::Stub>& stub,
                                      const v1beta1::AllocateRequest& request,
                                      v1beta1::AllocateResponse& response) {
  grpc::Status status;
  for (int attempt = 1; attempt <= kAllocateAttempts; ++attempt) {
    response.Clear();
    grpc::ClientContext context;
    SetDeadline(context, kAllocateDeadline);
    status = stub->Allocate(&context, request, &response);
    if (!Unanswered(status) || attempt == kAllocateAttempts) break;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      // The plugin may be restarting: dial its socket again after a moment.
      std::this_thread::sleep_for(std::chrono::seconds(1));
      {
        std::lock_guard lock(mu_);
        stub_.reset();
      }
      std::string ignored;
      if (auto again = Stub(ignored)) stub = std::move(again);
    }
  }
  return status;
}

void SimKubelet::RepeatEveryAllocate(int n) {
  std::lock_guard lock(mu_);
  repeat_every_ = n;
}

int SimKubelet::repeated_allocates() const {
  std::lock_guard lock(mu_);
  return repeated_;
}

std::vector<std::string> SimKubelet::repeat_mismatches() const {
  std::lock_guard lock(mu_);
  return repeat_mismatches_;
}

void SimKubelet::Release(const std::string& owner) {
  std::lock_guard lock(mu_);
  for (auto it = used_.begin(); it != used_.end();) {
    it = it->second == owner ? used_.erase(it) : std::next(it);
  }
}

}  // namespace flexai::e2e
