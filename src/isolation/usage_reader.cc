#include "isolation/usage_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstring>

#include "isolation/usage_layout.h"

namespace flexai::isolation {
namespace {

template <typename T>
T Field(const std::string& bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

const char* ModeName(std::uint32_t mode) {
  switch (mode) {
    case 0:
      return "none";
    case 1:
      return "hook";
    case 2:
      return "mps";
    default:
      return "unknown";
  }
}

}  // namespace

Result<UsageSnapshot> ParseUsage(const std::string& bytes, std::int64_t now_monotonic_ns) {
  if (bytes.size() < sizeof(UsageHeader)) {
    return Error{"usage file has " + std::to_string(bytes.size()) + " bytes, less than its header"};
  }
  auto header = Field<UsageHeader>(bytes, 0);
  if (std::memcmp(header.magic, kUsageMagic, sizeof(kUsageMagic)) != 0) {
    return Error{"usage file does not start with FLXUSAGE (not written by libflexai-cuda.so)"};
  }
  if (header.version != kUsageVersion) {
    return Error{"usage file version " + std::to_string(header.version) +
                 " is not supported (want " + std::to_string(kUsageVersion) + ")"};
  }
  if (header.header_bytes != sizeof(UsageHeader) || header.device_bytes != sizeof(UsageDevice) ||
      header.process_bytes != sizeof(UsageProcess) || header.device_capacity != kUsageMaxDevices ||
      header.process_capacity != kUsageMaxProcesses || bytes.size() < kUsageFileBytes) {
    return Error{"usage file layout does not match version 1 (record sizes or file size differ)"};
  }
  UsageSnapshot snapshot;
  snapshot.version = header.version;
  snapshot.mode = ModeName(header.mode);
  std::uint32_t device_count = std::min(header.device_count, kUsageMaxDevices);
  for (std::uint32_t d = 0; d < device_count; ++d) {
    auto device = Field<UsageDevice>(bytes, kUsageDevicesOffset + d * sizeof(UsageDevice));
    // window_start_ns is when the share was last computed (or, before the first window closed,
    // when launches began): no launch for kShareStaleAfter means the container went idle.
    const std::int64_t stale_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(kShareStaleAfter).count();
    // The file is the container's to write: a window in the future, or a share above the whole
    // GPU, is not believed.
    const bool share_fresh = device.window_start_ns > 0 &&
                             device.window_start_ns <= now_monotonic_ns &&
                             now_monotonic_ns - device.window_start_ns <= stale_ns;
    snapshot.devices.push_back(DeviceUsage{
        .index = static_cast<int>(d),
        .limit_bytes = device.limit_bytes,
        .used_bytes = device.used_bytes,
        .peak_bytes = device.peak_bytes,
        .cores_percent = device.cores_percent,
        .sm_share = share_fresh ? std::min(device.sm_share_permille, 1000u) / 1000.0 : 0.0,
        .launches_total = device.launches_total,
        .busy_ns_total = device.busy_ns_total,
        .refused_total = device.refused_total,
    });
  }
  for (std::uint32_t p = 0; p < kUsageMaxProcesses; ++p) {
    auto process = Field<UsageProcess>(bytes, kUsageProcessesOffset + p * sizeof(UsageProcess));
    if (process.pid <= 0) continue;
    ProcessUsage usage{.pid = process.pid, .used_bytes = {}};
    usage.used_bytes.assign(process.used_bytes, process.used_bytes + device_count);
    snapshot.processes.push_back(std::move(usage));
  }
  return snapshot;
}

std::int64_t MonotonicNowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

Result<UsageSnapshot> ParseUsage(const std::string& bytes) {
  return ParseUsage(bytes, MonotonicNowNs());
}

Result<UsageSnapshot> ReadUsageFile(const std::string& path) {
  // The file lies in a directory the container writes: it may be a FIFO (a blocking open or read
  // would stall the heartbeat), a link to something huge or endless, or the wrong size. Only a
  // regular file of exactly the layout's size is read, without following a link.
  // Looked at through an O_PATH descriptor first: opening a device node planted there could act
  // on the device (the device plugin may run privileged); only a regular file is opened to read.
  int path_fd = open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (path_fd < 0) return Error{"cannot open usage file " + path + ": " + std::strerror(errno)};
  struct stat info {};
  std::string bytes;
  if (fstat(path_fd, &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::size_t>(info.st_size) != kUsageFileBytes) {
    close(path_fd);
    return Error{path + " is not a regular file of " + std::to_string(kUsageFileBytes) + " bytes"};
  }
  const std::string through = "/proc/self/fd/" + std::to_string(path_fd);
  int fd = open(through.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  close(path_fd);
  if (fd < 0) return Error{"cannot open usage file " + path + ": " + std::strerror(errno)};
  bytes.resize(kUsageFileBytes);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  close(fd);
  bytes.resize(done);
  Result<UsageSnapshot> snapshot = ParseUsage(bytes);
  if (!snapshot) return Error{path + ": " + snapshot.error().message};
  return snapshot;
}

}  // namespace flexai::isolation
