// Who else keeps a GPU busy. Contexts of different processes time-slice a GPU, so a kernel that
// was timed while another process had work queued took longer than it costs: charging that time
// over-charges the smaller share, which waits behind the larger one more often (measured on an
// H200: a 30% slice got 21% against a 70% neighbour). Each hooked process posts on a node-wide
// board per GPU until when the work it queued should keep the GPU busy; a timing taken while
// another process's post was running is "contended" and cannot raise a kernel's cost estimate
// (see LaunchCostModel::AddSample).
//
// The board is the file `<FLEXAI_ACTIVITY_DIR>/<GPU UUID>` (`device-<slot>` without a UUID),
// which the device plugin mounts into every hook-mode container on that GPU. Without it a
// process sees no neighbours and every timing counts, as before.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "isolation/usage_layout.h"

namespace flexai::isolation {

// One process's post. Fields are accessed atomically in place (the file is shared memory).
struct ActivitySlot {
  std::uint64_t owner = 0;         // the posting process's random token; 0: free
  std::int64_t busy_until_ns = 0;  // CLOCK_MONOTONIC, the same clock in every container
};
inline constexpr std::size_t kActivitySlots = 256;
inline constexpr std::size_t kActivityFileBytes = kActivitySlots * sizeof(ActivitySlot);
// A post that ended this long ago frees its slot: its process is gone or idle, and re-claims a
// slot when it launches again.
inline constexpr std::int64_t kActivityStaleNs = 10'000'000'000;

// The board's operations over its slots (mapped file, or plain memory in tests).
class ActivityBoard {
 public:
  explicit ActivityBoard(std::span<ActivitySlot> slots) : slots_(slots) {}

  // Posts that `owner`'s queued work ends at `busy_until_ns`. `hint` caches the owner's slot
  // index between calls (start it at kActivitySlots). A full board drops the post.
  void Post(std::uint64_t owner, std::int64_t busy_until_ns, std::int64_t now_ns,
            std::size_t& hint);
  // Whether a process other than `owner` posted work that runs past `since_ns`.
  bool OthersBusyAfter(std::uint64_t owner, std::int64_t since_ns) const;

 private:
  std::span<ActivitySlot> slots_;
};

// This process's boards, one per accounting slot, mapped when first needed.
class DeviceActivity {
 public:
  // `dir` empty: no boards (no neighbours are ever seen). `uuids` names the boards by slot.
  DeviceActivity(std::string dir, std::vector<std::string> uuids);
  ~DeviceActivity();
  DeviceActivity(const DeviceActivity&) = delete;
  DeviceActivity& operator=(const DeviceActivity&) = delete;

  // A launch on `device` queued `cost_ns` of work at `now_ns` (CLOCK_MONOTONIC or its coarse
  // twin, which lags by a few ms: posts carry kPostSlackNs more): the posted end moves on.
  void NoteLaunch(int device, std::int64_t cost_ns, std::int64_t now_ns);
  // Whether another process had work on `device` running past `since_ns`.
  bool Contended(int device, std::int64_t since_ns);
  bool enabled() const { return !dir_.empty(); }
  // In a fork child: it posts under an owner token of its own (else its parent's work and its
  // own would look like one process's).
  void ForgetOwnerInChild();

  // Posts announce this much more than the queued work: a continuously launching process then
  // writes the shared board about once per this interval, and a coarse clock's lag is covered.
  static constexpr std::int64_t kPostSlackNs = 5'000'000;

 private:
  struct Device {
    std::once_flag mapped;
    ActivitySlot* slots = nullptr;  // null: no board (failed to map)
    std::atomic<std::int64_t> queue_end{0};
    std::atomic<std::int64_t> posted{0};
    std::atomic<std::size_t> hint{kActivitySlots};
  };
  Device* Map(int device);
  static std::uint64_t NewOwner();

  std::string dir_;
  std::vector<std::string> uuids_;
  std::array<Device, kUsageMaxDevices> devices_{};
  std::atomic<std::uint64_t> owner_{NewOwner()};
};

}  // namespace flexai::isolation
