// Reads a container's shared accounting file (usage.bin, layout in usage_layout.h) into plain
// structs, for the device plugin to export as metrics and live node state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "partition/result.h"

namespace flexai::isolation {

struct DeviceUsage {
  int index = 0;                  // visible-device ordinal inside the container
  std::uint64_t limit_bytes = 0;  // kUnlimitedBytes when no memory quota
  std::uint64_t used_bytes = 0;
  std::uint64_t peak_bytes = 0;
  std::uint32_t cores_percent = 100;
  // Estimated fraction of GPU time used, 0..1, over the hook's last window; 0 when that window
  // closed more than kShareStaleAfter ago (the hook updates it only on a launch, so an idle
  // container's share would otherwise stay frozen at its last busy value).
  double sm_share = 0;
  std::uint64_t launches_total = 0;
  std::uint64_t busy_ns_total = 0;  // estimated GPU time of all launches
  std::uint64_t refused_total = 0;  // allocations refused for the quota
};

struct ProcessUsage {
  int pid = 0;                            // in the container's pid namespace
  std::vector<std::uint64_t> used_bytes;  // per device
};

struct UsageSnapshot {
  std::uint32_t version = 0;
  std::string mode;  // "hook", "mps" or "none"
  std::vector<DeviceUsage> devices;
  std::vector<ProcessUsage> processes;  // live slots only
};

// A share whose window started longer ago than this (no launch since) is reported as 0.
inline constexpr std::chrono::seconds kShareStaleAfter{5};

// CLOCK_MONOTONIC now, in nanoseconds: the clock the hook stamps its share windows with.
std::int64_t MonotonicNowNs();

// Parses the bytes of a usage file; the error names what is wrong (magic, version, size).
// `now_monotonic_ns` is CLOCK_MONOTONIC (the clock the hook stamps its windows with).
Result<UsageSnapshot> ParseUsage(const std::string& bytes, std::int64_t now_monotonic_ns);
// The same, at the current CLOCK_MONOTONIC time.
Result<UsageSnapshot> ParseUsage(const std::string& bytes);
// Reads and parses `path` (e.g. <shared dir>/usage.bin).
Result<UsageSnapshot> ReadUsageFile(const std::string& path);

}  // namespace flexai::isolation
