// Reads a host PID socket's whole answer (src/device_plugin/host_pid_service.h) as a test client.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace flexai::device_plugin::testing {

// A connected client of the socket at `path` (-1 when it cannot connect).
inline int ConnectUnix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// The service's whole answer on `path`, or "no connection".
inline std::string AskHostPid(const std::string& path) {
  int fd = ConnectUnix(path);
  if (fd < 0) return "no connection";
  std::string answer;
  char buffer[64];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, static_cast<size_t>(n));
  close(fd);
  return answer;
}

}  // namespace flexai::device_plugin::testing
