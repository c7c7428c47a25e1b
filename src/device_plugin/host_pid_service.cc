#include "device_plugin/host_pid_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "device_plugin/activity_folders.h"
#include "isolation/activity_folder.h"

namespace flexai::device_plugin {
namespace {

Result<int> Listen(const std::string& folder, std::string& path, struct stat& bound) {
  if (std::string problem = PrepareActivityFolder(folder); !problem.empty()) return Error{problem};
  path = folder + "/" + std::string(isolation::kHostPidSocketName);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return Error{"socket path too long: " + path};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("socket: ") + std::strerror(errno)};
  unlink(path.c_str());  // a socket of an earlier run
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      chmod(path.c_str(), 0666) != 0 || listen(fd, 64) != 0 ||  // any container user connects
      lstat(path.c_str(), &bound) != 0) {
    std::string why = path + ": " + std::strerror(errno);
    close(fd);
    return Error{why};
  }
  return fd;
}

// Answers up to a few pending connections of `listener` with the peer's PID and hangs up (a
// bounded batch: one busy folder cannot starve the others or the stop request). Returns false
// when out of file descriptors, so that the caller backs off instead of spinning on a listener
// that stays readable.
bool AnswerSome(int listener) {
  constexpr int kBatch = 32;
  for (int i = 0; i < kBatch; ++i) {
    int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0)
      return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
    ucred peer{};
    socklen_t size = sizeof(peer);
    int pid = getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 ? peer.pid : 0;
    std::string answer = std::to_string(pid) + "\n";
    // A few bytes into a fresh socket's empty buffer: never blocks.
    ssize_t ignored = send(client, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    close(client);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<HostPidService>> HostPidService::Start(
    const std::vector<std::string>& folders) {
  std::unique_ptr<HostPidService> service(new HostPidService());
  for (const std::string& folder : folders) {
    Socket socket;
    struct stat bound {};
    auto listener = Listen(folder, socket.path, bound);
    if (!listener) return listener.error();  // the destructor closes and removes the others
    socket.listener = *listener;
    socket.device = bound.st_dev;
    socket.inode = bound.st_ino;
    service->sockets_.push_back(std::move(socket));
  }
  service->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (service->stop_fd_ < 0) return Error{std::string("eventfd: ") + std::strerror(errno)};
  service->thread_ = std::thread([raw = service.get()] { raw->Serve(); });
  return service;
}

void HostPidService::Serve() {
  std::vector<pollfd> fds;
  fds.push_back({stop_fd_, POLLIN, 0});
  for (const Socket& socket : sockets_) fds.push_back({socket.listener, POLLIN, 0});
  bool back_off = false;
  while (true) {
    // Out of file descriptors: only the stop request is watched for a while.
    int ready = poll(fds.data(), back_off ? 1 : fds.size(), back_off ? 100 : -1);
    back_off = false;
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::error("host PID sockets stop answering: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) && !AnswerSome(fds[i].fd)) back_off = true;
      fds[i].revents = 0;
    }
  }
}

HostPidService::~HostPidService() {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof(one));
    (void)ignored;
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  for (const Socket& socket : sockets_) {
    close(socket.listener);
    // A successor (the next device plugin) may have bound the path again already.
    struct stat now {};
    if (lstat(socket.path.c_str(), &now) == 0 && now.st_dev == socket.device &&
        now.st_ino == socket.inode) {
      unlink(socket.path.c_str());
    }
  }
}

}  // namespace flexai::device_plugin
