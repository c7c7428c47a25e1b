// Tells a process in a container its PID as the host, and so NVML, knows it. The hook's share
// calibration (src/isolation/hook/share_calibration.h) compares its charges with NVML's
// per-process utilisation, which names host PIDs; a process in a pod's own PID namespace cannot
// learn its host PID by itself. It connects to <GPU folder>/.host-pid.sock (the folder of
// activity boards, mounted read-only into hook-mode containers; connecting needs no write access
// to the mount) and reads the PID the kernel gives for it (SO_PEERCRED, translated into this
// daemon's PID namespace): the host's when the device plugin runs with hostPID, else 0 (unknown).
// Nothing is read from the client, so a client cannot hold the service up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "partition/result.h"

namespace flexai::device_plugin {

class HostPidService {
 public:
  // Listens at <folder>/<isolation::kHostPidSocketName> in each folder (PrepareActivityFolder;
  // whatever is at the socket's path is replaced). A folder that cannot take a socket is an
  // error.
  static Result<std::unique_ptr<HostPidService>> Start(const std::vector<std::string>& folders);
  ~HostPidService();  // stops answering and removes the sockets
  HostPidService(const HostPidService&) = delete;
  HostPidService& operator=(const HostPidService&) = delete;

 private:
  HostPidService() = default;
  void Serve();

  struct Socket {
    int listener = -1;
    std::string path;
    std::uint64_t device = 0, inode = 0;  // of the path once bound: a successor's is left alone
  };
  std::vector<Socket> sockets_;
  int stop_fd_ = -1;  // eventfd
  std::thread thread_;
};

}  // namespace flexai::device_plugin
