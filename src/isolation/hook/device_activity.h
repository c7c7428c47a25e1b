// Who else keeps a GPU busy. Contexts of different processes time-slice a GPU, so a kernel that
// was timed while another process had work queued took longer than it costs: charging that time
// over-charges the smaller share, which waits behind the larger one more often (measured on an
// H200: a 30% slice got 21% against a 70% neighbour). Each hooked process posts when its queued
// work should keep the GPU busy; a timing that overlapped another process's post is
// "contended": it can lower a kernel's cost estimate, and raise it only to what it proves (see
// LaunchCostModel::AddSample).
//
// Each container posts on boards of its own, one per GPU: `<FLEXAI_SHARED_DIR>/activity-<name>`
// (`name`: the GPU's UUID from FLEXAI_VISIBLE_DEVICES, `device-<slot>` without one), mapped
// read-write by its processes only. The device plugin hard-links every container's board of a
// GPU into one folder per GPU and mounts that folder read-only at `<FLEXAI_ACTIVITY_DIR>/<name>`;
// neighbours' boards are read from there with pread, never mapped, so what another container
// does to its own file (truncate it, fill it with garbage) cannot crash this process. Without
// those folders a process sees no neighbours and every timing counts, as before.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "isolation/usage_layout.h"

namespace flexai::isolation {

// One process's post: a busy period [busy_since_ns, busy_until_ns] in CLOCK_MONOTONIC, the same
// clock in every container. Fields are accessed atomically in place.
struct ActivitySlot {
  std::uint64_t owner = 0;  // the posting process's random token; 0: free
  std::int64_t busy_since_ns = 0;
  std::int64_t busy_until_ns = 0;
  std::int64_t last_since_ns = 0;  // the busy period before, kept for late readers
  std::int64_t last_until_ns = 0;
  std::int64_t work_ns = 0;  // estimated GPU time of all the process's launches so far
};
// Version 2 added work_ns. A container's own board of another layout is laid out again.
inline constexpr char kActivityMagic[8] = {'F', 'L', 'X', 'A', 'C', 'T', 'V', '2'};
struct ActivityHeader {
  char magic[8];             // kActivityMagic, written last
  std::uint32_t slot_count;  // kActivitySlots
  std::uint32_t slot_bytes;  // sizeof(ActivitySlot)
};
inline constexpr std::size_t kActivitySlots = 128;
inline constexpr std::size_t kActivityFileBytes =
    sizeof(ActivityHeader) + kActivitySlots * sizeof(ActivitySlot);
// A post that ended this long ago frees its slot for another process of the container.
inline constexpr std::int64_t kActivityStaleNs = 10'000'000'000;

// A period of GPU time, CLOCK_MONOTONIC ns.
struct BusyPeriod {
  std::int64_t since_ns = 0;
  std::int64_t until_ns = 0;
};

// Operations on one container's board (its mapped slots, or plain memory in tests).
class ActivityBoard {
 public:
  explicit ActivityBoard(std::span<ActivitySlot> slots) : slots_(slots) {}

  // Posts `owner`'s busy period and the estimated GPU time of all its launches so far. `hint`
  // caches the owner's slot index between calls (start it at kActivitySlots). A full board drops
  // the post.
  void Post(std::uint64_t owner, BusyPeriod period, std::int64_t work_ns, std::int64_t now_ns,
            std::size_t& hint);
  // Frees `owner`'s slot (at exit).
  void Withdraw(std::uint64_t owner);

 private:
  std::span<ActivitySlot> slots_;
};

// How many posts in `slots` other than `owner`'s overlap `period`.
int CountOverlapping(std::span<const ActivitySlot> slots, std::uint64_t owner, BusyPeriod period);

// This process's boards, one per accounting slot, opened when first needed.
class DeviceActivity {
 public:
  // `shared_dir` holds this container's boards (empty: it posts nothing); `view_dir` the
  // read-only folders of every container's boards per GPU (empty: it sees no neighbour).
  // `uuids` names the boards by slot.
  DeviceActivity(std::string shared_dir, std::string view_dir, std::vector<std::string> uuids);
  ~DeviceActivity();
  DeviceActivity(const DeviceActivity&) = delete;
  DeviceActivity& operator=(const DeviceActivity&) = delete;

  // Whether this process posts its work on `device` (its board is mapped).
  bool Posts(int device);
  // A launch on `device` queued `cost_ns` of work at `now_ns` (CLOCK_MONOTONIC or its coarse
  // twin, which lags by up to a tick: posts carry slack for it).
  void NoteLaunch(int device, std::int64_t cost_ns, std::int64_t now_ns);
  // When this process's work queued on `device` so far is expected to end when it runs alone
  // (posts stretch it); 0 when it posts nothing.
  std::int64_t QueueEnd(int device);
  // How many other processes (of any container on the GPU) posted work on `device` overlapping
  // `period`.
  int Contenders(int device, BusyPeriod period);
  // The estimated GPU time of all processes' launches on `device` (this one's included) since
  // the last call, at `now_ns`, from every container's board of the GPU; nullopt at the first
  // call, without boards, and when processes came or went since (a newcomer's work before it was
  // first seen and a leaver's last work are unknown). What a board claims is bounded: a negative
  // total is ignored, a total that went back adds nothing, and no process adds more than the time
  // since the last call plus kMaxAheadNs. Called by one thread at a time (the window's closer).
  std::optional<std::int64_t> WorkSince(int device, std::int64_t now_ns);
  // Frees this process's slots (at exit), so neighbours stop counting its work at once.
  void Withdraw();
  // In a fork child: it posts under an owner token of its own (else its parent's work and its
  // own would look like one process's).
  void ForgetOwnerInChild();

  // A process's queued work is never taken to end further ahead of now than this: over-estimated
  // costs would otherwise add up, and what has long been launched has run.
  static constexpr std::int64_t kMaxAheadNs = 5'000'000'000;

 private:
  struct Device {
    std::once_flag mapped;
    ActivitySlot* slots = nullptr;  // own board; null: none
    std::atomic<std::int64_t> queue_since{0};
    std::atomic<std::int64_t> queue_end{0};
    std::atomic<std::int64_t> posted{0};
    std::atomic<std::size_t> hint{kActivitySlots};
    std::atomic<std::int64_t> work{0};  // this process's, posted with its busy periods
    // What WorkSince saw last (fixed size: a fork child may reset it mid-update by another thread).
    struct OwnerWork {
      std::uint64_t owner;
      std::int64_t work_ns;
    };
    std::array<OwnerWork, 256> seen{};
    std::size_t seen_count = 0;
    bool seen_once = false;
    std::int64_t seen_ns = 0;
  };
  // Calls `visit(slots)` with the slots of each board in the GPU's folder (read with pread).
  template <typename Visit>
  void ForEachBoard(int device, Visit&& visit);
  Device* Map(int device);
  std::string Name(int device) const;
  static std::uint64_t NewOwner(std::uint64_t seed);

  std::string shared_dir_;
  std::string view_dir_;
  std::vector<std::string> uuids_;
  std::array<Device, kUsageMaxDevices> devices_{};
  std::atomic<std::uint64_t> owner_;
  std::int64_t slack_ns_;  // covers the coarse clock's tick; also spaces out board writes
};

}  // namespace flexai::isolation
