// Serves one resource's DevicePlugin socket in the device plugin directory and keeps it
// registered with kubelet: registers at start (retrying while kubelet.sock is missing), and when
// kubelet restarts (it removes our socket and recreates kubelet.sock) serves a fresh socket and
// registers again. The service object, and so all state, stays the same.
// Two instances on one plugin directory (a DaemonSet rolling update with maxSurge, a copy run by
// hand): the newest wins. Serving replaces whatever socket is at our path; an instance that finds
// its socket replaced by another (the path is there but is not the socket it bound) stands by:
// it stops serving and registering, without touching that socket, until the path goes away, and
// then serves and registers again. kubelet restarts remove the path instead (every socket in the
// directory), so the two cases never look alike.
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
  // Another process serves our socket path: we stand by until the path goes away.
  bool standing_by() const { return standing_by_; }
  // How many times the socket was (re-)served; for tests and logs.
  int serve_count() const { return serve_count_; }
  // After taking the path over from another instance, a second registration is due: kubelet
  // handles the end of the other instance's stream by resource name and would otherwise mark
  // this one's devices unhealthy and drop the resource (kubernetes#121994).
  bool takeover_reregister_pending() const { return takeover_reregister_pending_; }
  // How many times the watcher has looked at the sockets; lets tests wait for it to act.
  int watch_passes() const { return watch_passes_; }
  std::string socket_path() const { return plugin_dir_ + "/" + socket_name_; }

 private:
  // What is at our socket path now.
  enum class SocketState { kOurs, kGone, kReplaced };

  Status Serve();
  void StopServing();
  Status Register();
  void WatchLoop();
  SocketState OurSocketState() const;
  // Stands by when another process now serves our path, serves again once that path is gone.
  // Returns true while standing by (nothing else to do this pass).
  bool StandByWhileReplaced(SocketState state);
  // Identity of a file, to tell a recreated kubelet.sock from the one we registered with.
  static bool FileIdentity(const std::string& path, ino_t& inode, time_t& ctime_sec);

  const std::string plugin_dir_;
  const std::string socket_name_;
  const std::string resource_name_;
  grpc::Service* const service_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> registered_{false};
  std::atomic<int> serve_count_{0};
  std::atomic<bool> standing_by_{false};
  std::atomic<bool> takeover_reregister_pending_{false};
  std::chrono::steady_clock::time_point takeover_reregister_at_{};
  std::atomic<int> watch_passes_{0};
  // The socket file we bound (device and inode), to tell it from one another process bound.
  dev_t our_socket_dev_ = 0;
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
