#include "harness/sim_kubelet.h"

#include <filesystem>

namespace flexai::e2e {
namespace {

// kubelet puts no deadline on Allocate: an answer given up on while the plugin completes the pod
// would make the retry take the next pod's assignment. Only a hung plugin hits this one.
constexpr auto kAllocateDeadline = std::chrono::seconds(120);
constexpr auto kRpcDeadline = std::chrono::seconds(5);

void SetDeadline(grpc::ClientContext& context, std::chrono::seconds after = kRpcDeadline) {
  context.set_deadline(std::chrono::system_clock::now() + after);
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
  grpc::ClientContext context;
  SetDeadline(context, kAllocateDeadline);
  grpc::Status status = stub->Allocate(&context, request, &response);
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
  std::lock_guard lock(mu_);
  for (const auto& id : chosen) used_[id] = owner;
  return true;
}

void SimKubelet::Release(const std::string& owner) {
  std::lock_guard lock(mu_);
  for (auto it = used_.begin(); it != used_.end();) {
    it = it->second == owner ? used_.erase(it) : std::next(it);
  }
}

}  // namespace flexai::e2e
