// A stand-in for kubelet in tests: serves the Registration service on <dir>/kubelet.sock,
// records every RegisterRequest, and opens DevicePlugin clients to the plugin's endpoint.
// `Restart()` behaves like a kubelet restart: deletes plugin sockets and recreates kubelet.sock.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace flexai::device_plugin::testing {

// A fresh temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class TestKubelet : public v1beta1::Registration::Service {
 public:
  explicit TestKubelet(std::string dir);
  ~TestKubelet() override;

  void Start();
  void Shutdown();
  // Kubelet restart: stop, delete every other socket in the directory, serve kubelet.sock anew.
  void Restart();

  grpc::Status Register(grpc::ServerContext* context, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty* response) override;

  std::vector<v1beta1::RegisterRequest> registrations() const;
  // Waits (up to `timeout`) until at least `count` registrations arrived.
  bool WaitForRegistrations(size_t count, std::chrono::milliseconds timeout) const;
  // A DevicePlugin client to the endpoint of the latest registration.
  std::unique_ptr<v1beta1::DevicePlugin::Stub> PluginStub() const;

 private:
  std::string dir_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  mutable std::condition_variable registered_;
  std::vector<v1beta1::RegisterRequest> registrations_;
};

// Reads a ListAndWatch stream in the background and keeps every response.
class DeviceListWatcher {
 public:
  explicit DeviceListWatcher(std::unique_ptr<v1beta1::DevicePlugin::Stub> stub);
  ~DeviceListWatcher();

  // Waits until the latest list satisfies `predicate`; returns it (nullopt on timeout or end).
  std::optional<v1beta1::ListAndWatchResponse> WaitFor(
      const std::function<bool(const v1beta1::ListAndWatchResponse&)>& predicate,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  size_t received() const;
  bool ended() const;

 private:
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
  grpc::ClientContext context_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1beta1::ListAndWatchResponse> lists_;
  bool ended_ = false;
  std::thread reader_;
};

// Health of every device of `chip_uuid` in `list` ("" when the chip is absent).
std::string ChipHealth(const v1beta1::ListAndWatchResponse& list, const std::string& chip_uuid);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace flexai::device_plugin::testing
