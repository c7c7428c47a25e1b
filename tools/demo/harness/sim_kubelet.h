// The kubelet side of the device plugin API v1beta1 for one simulated node: serves Registration on
// <dir>/kubelet.sock, dials the plugin's endpoint from its latest registration, keeps the device
// list from ListAndWatch, and admits containers the way kubelet does (GetPreferredAllocation, then
// Allocate with device IDs it picked among the free ones). Restart() acts as a kubelet restart:
// every socket in the directory is deleted and kubelet.sock served anew, so the plugin must notice
// and register again.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace flexai::e2e {

// What one container got from Allocate.
struct ContainerGrant {
  std::map<std::string, std::string> env;
  std::vector<std::string> device_ids;
};

class SimKubelet : public v1beta1::Registration::Service {
 public:
  explicit SimKubelet(std::string dir);
  ~SimKubelet() override;

  void Start();
  void Shutdown();
  void Restart();

  grpc::Status Register(grpc::ServerContext* context, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty* response) override;

  int registrations() const;
  // The resource of the latest registration ("" before any).
  std::string resource_name() const;

  // Admits one container asking `count` devices: picks free devices (the plugin's preference
  // first), calls Allocate, and on success marks the devices used by `owner` (pod uid). Errors
  // (no plugin registered, plugin unreachable, Allocate refused) come back in `error`.
  bool AllocateContainer(const std::string& owner, int count, ContainerGrant& grant,
                         std::string& error);
  // Frees every device `owner` holds (the pod finished).
  void Release(const std::string& owner);

  // Sends every `n`-th answered Allocate once more with the same devices, as kubelet does when it
  // gave up waiting for an answer the plugin did give, and checks that the answer is the same.
  // 0 = never.
  void RepeatEveryAllocate(int n);
  int repeated_allocates() const;
  // One line per repeat answered differently from the first answer (or refused).
  std::vector<std::string> repeat_mismatches() const;

 private:
  std::shared_ptr<v1beta1::DevicePlugin::Stub> Stub(std::string& error);
  bool RefreshDevices(v1beta1::DevicePlugin::Stub& stub, std::string& error);
  // Allocate with a 5 s deadline, sent again (re-dialling the socket) while unanswered.
  grpc::Status CallAllocate(std::shared_ptr<v1beta1::DevicePlugin::Stub>& stub,
                            const v1beta1::AllocateRequest& request,
                            v1beta1::AllocateResponse& response);

  const std::string dir_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  int registrations_ = 0;
  std::string endpoint_, resource_;
  bool devices_fresh_ = false;
  std::shared_ptr<v1beta1::DevicePlugin::Stub> stub_;
  std::vector<std::string> healthy_devices_;
  std::map<std::string, std::string> used_;  // device id -> owner
  int repeat_every_ = 0;
  int answered_ = 0;
  int repeated_ = 0;
  std::vector<std::string> repeat_mismatches_;
};

}  // namespace flexai::e2e
