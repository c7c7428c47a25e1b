// Serves one resource's DevicePlugin socket in the device plugin directory and keeps it
// registered with kubelet: registers at start (retrying while kubelet.sock is missing), and when
// kubelet restarts (it removes our socket and recreates kubelet.sock) serves a fresh socket and
// registers again. The service object, and so all state, stays the same.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "partition/result.h"

namespace flexai::device_plugin {

class KubeletConnection {
 public:
  // `socket_name` is our file name inside `plugin_dir`; `service` must outlive this object.
  KubeletConnection(std::string plugin_dir, std::string socket_name, std::string resource_name,
                    grpc::Service* service);
  ~KubeletConnection();
  KubeletConnection(const KubeletConnection&) = delete;
  KubeletConnection& operator=(const KubeletConnection&) = delete;

  // Serves the socket and starts the watcher thread (which registers). Fails only when the
  // socket cannot be served at all.
  Status Start();
  void Stop();

  bool registered() const { return registered_; }
  // How many times the socket was (re-)served; for tests and logs.
  int serve_count() const { return serve_count_; }
  std::string socket_path() const { return plugin_dir_ + "/" + socket_name_; }

 private:
  Status Serve();
  Status Register();
  void WatchLoop();
  // Identity of a file, to tell a recreated kubelet.sock from the one we registered with.
  static bool FileIdentity(const std::string& path, ino_t& inode, time_t& ctime_sec);

  const std::string plugin_dir_;
  const std::string socket_name_;
  const std::string resource_name_;
  grpc::Service* const service_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> registered_{false};
  std::atomic<int> serve_count_{0};
  ino_t our_socket_inode_ = 0;
  ino_t kubelet_inode_ = 0;
  time_t kubelet_ctime_ = 0;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread watcher_;
};

// Socket file name for a resource: "flexai.io/gpu" -> "flexai-gpu.sock".
std::string SocketNameFor(const std::string& resource_name);

}  // namespace flexai::device_plugin
