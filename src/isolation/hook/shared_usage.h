// Memory and launch accounting shared by every process of a container: a memory-mapped
// `usage.bin` (layout in isolation/usage_layout.h) updated with lock-free atomics, so that
// quotas hold across processes, threads and fork, and a dead process's memory is reclaimed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "isolation/hook/hook_config.h"
#include "isolation/usage_layout.h"

namespace flexai::isolation {

class SharedUsage {
 public:
  // Maps `<config.shared_dir>/usage.bin`, creating and initialising it when new. Without a shared
  // dir, or when the file cannot be used, falls back to an anonymous mapping that only this
  // process and its fork children share; `warning` then says why. The limits recorded in the
  // file are the creator's and are never rewritten; each process enforces the stricter of those
  // and its own `config` (a process without a limit of its own is held to the file's).
  static std::unique_ptr<SharedUsage> Open(const HookConfig& config, std::string& warning);

  SharedUsage(const SharedUsage&) = delete;
  SharedUsage& operator=(const SharedUsage&) = delete;
  ~SharedUsage();

  // Adds `bytes` to the device's usage unless, when `enforce`, that would pass its quota.
  // Atomic: concurrent reservations from any process never exceed the quota together.
  bool Reserve(int device, std::uint64_t bytes, bool enforce);
  void Release(int device, std::uint64_t bytes);
  void CountRefusal(int device);

  std::uint64_t UsedBytes(int device) const;
  // The quota this process enforces: the stricter of the file's and its own.
  std::uint64_t LimitBytes(int device) const;
  // The compute share this process enforces: the stricter of the file's and its own.
  std::uint32_t CoresPercent(int device) const;

  // Returns the memory of processes that exited without freeing it; returns how many were found.
  int ReclaimDeadProcesses();
  // Returns the memory recorded for this very process (same pid and start time) before its
  // program was replaced by exec: the driver freed it with the old address space.
  int ReclaimEarlierImage();
  // At exit: returns this process's memory now (the driver frees it with the process) rather
  // than when another process next reclaims it; later calls of this process are not counted.
  void ReleaseThisProcess();
  // In a fork child: the next reservation claims a slot for the child's own pid.
  void ForgetProcessSlot();

  // Token bucket of GPU time per device, refilled at `percent` of wall time. Takes `cost_ns` and
  // returns how long the caller should sleep to stay within the share (0 = no wait).
  std::int64_t TakeLaunchTokens(int device, std::int64_t cost_ns, std::int64_t now_ns,
                                std::uint32_t percent);
  // Counts launches and their estimated GPU time for the live share estimate.
  void RecordLaunches(int device, std::uint64_t launches, std::int64_t cost_ns,
                      std::int64_t now_ns);

  const std::string& path() const { return path_; }

 private:
  SharedUsage(UsageFile* file, std::string path, const HookConfig& config)
      : file_(file), path_(std::move(path)), own_(config) {}
  class InFlight;
  UsageDevice* Device(int device) const;
  UsageProcess* OwnSlot();
  // Frees `process` if its pid is still `pid`; true when this call freed it.
  bool FreeSlot(UsageProcess& process, std::int32_t pid);

  UsageFile* file_;
  std::string path_;  // empty for the anonymous fallback
  HookConfig own_;    // this process's own limits
  // Slot of the process that owns these fields; reset in fork children (see ForgetProcessSlot).
  std::atomic<int> own_slot_{-1};  // -1 none yet, -2 table full
  std::atomic<int> own_pid_{0};
  std::atomic<bool> claiming_{false};
  std::atomic<bool> released_{false};  // ReleaseThisProcess ran
  std::atomic<int> in_flight_{0};  // Reserve/Release calls under way (ReleaseThisProcess waits)  //
                                   // spin lock for claiming; a mutex could be held across fork
};

// Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown.
std::uint64_t ProcessStartTicks(int pid);
// Whether a process is gone (no such pid, a zombie, or a different process with that pid).
bool ProcessIsGone(int pid, std::uint64_t start_ticks);

}  // namespace flexai::isolation
