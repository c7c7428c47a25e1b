#include "isolation/hook/device_activity.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

namespace flexai::isolation {
namespace {

template <typename T>
std::atomic_ref<T> Atomic(T& value) {
  return std::atomic_ref<T>(value);
}

// Posted ends are predictions from cost estimates. A process's own kernels stretch while it
// shares the GPU, so its queued work is posted as lasting twice its cost: a neighbour that
// mistakes a contended timing for a clean one raises its own cost, which is worse than waiting
// a little longer for a clean timing.
constexpr std::int64_t kPostedStretch = 2;
constexpr std::int64_t kMinSlackNs = 5'000'000;

ActivitySlot* SlotsOf(void* file) {
  return reinterpret_cast<ActivitySlot*>(static_cast<char*>(file) + sizeof(ActivityHeader));
}

bool HeaderMatches(const ActivityHeader& header) {
  return std::memcmp(header.magic, kActivityMagic, sizeof(kActivityMagic)) == 0 &&
         header.slot_count == kActivitySlots && header.slot_bytes == sizeof(ActivitySlot);
}

// Maps this container's own board, laying it out under an exclusive flock when new or of another
// layout (an earlier version of the library made it; its slots mean nothing now). Only the
// container's own processes can reach the file, so mapping it is safe.
void* MapOwnBoard(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return nullptr;
  fchmod(fd, 0666);  // processes of any user in the container share it
  flock(fd, LOCK_EX);
  struct stat info {};
  // Blocks are allocated, not just a sparse size: writes to the mapping cannot SIGBUS later.
  bool sized = fstat(fd, &info) == 0 &&
               (static_cast<std::size_t>(info.st_size) >= kActivityFileBytes ||
                posix_fallocate(fd, 0, static_cast<off_t>(kActivityFileBytes)) == 0);
  void* memory = sized
                     ? mmap(nullptr, kActivityFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                     : MAP_FAILED;
  if (memory != MAP_FAILED) {
    auto* header = static_cast<ActivityHeader*>(memory);
    if (!HeaderMatches(*header)) {
      std::memset(header->magic, 0, sizeof(header->magic));  // readers skip it meanwhile
      std::atomic_thread_fence(std::memory_order_release);
      std::fill_n(SlotsOf(memory), kActivitySlots, ActivitySlot{});
      header->slot_count = kActivitySlots;
      header->slot_bytes = sizeof(ActivitySlot);
      std::atomic_thread_fence(std::memory_order_release);
      std::memcpy(header->magic, kActivityMagic, sizeof(kActivityMagic));
    }
  }
  flock(fd, LOCK_UN);
  close(fd);
  return memory == MAP_FAILED ? nullptr : memory;
}

// Reads one board of the GPU's folder with pread: another container may truncate or rewrite
// its file at any time, which a mapping would turn into SIGBUS here. Returns the slots read.
std::size_t ReadBoard(int dir_fd, const char* name, std::array<ActivitySlot, kActivitySlots>& out) {
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return 0;
  struct stat info {};
  std::size_t count = 0;
  ActivityHeader header{};
  if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
      pread(fd, &header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header)) &&
      HeaderMatches(header)) {
    ssize_t got = pread(fd, out.data(), sizeof(ActivitySlot) * out.size(), sizeof(header));
    count = got > 0 ? static_cast<std::size_t>(got) / sizeof(ActivitySlot) : 0;
  }
  close(fd);
  return count;
}

std::uint64_t Mix(std::uint64_t value) {  // splitmix64's finaliser
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

}  // namespace

void ActivityBoard::Post(std::uint64_t owner, BusyPeriod period, std::int64_t work_ns,
                         std::int64_t now_ns, std::size_t& hint) {
  auto write = [&](ActivitySlot& slot) {
    // A new busy period keeps the last one beside it: a neighbour may read a sample that
    // overlapped it only now.
    std::int64_t since = Atomic(slot.busy_since_ns).load();
    if (since != period.since_ns) {
      Atomic(slot.last_since_ns).store(since);
      Atomic(slot.last_until_ns).store(Atomic(slot.busy_until_ns).load());
    }
    Atomic(slot.busy_since_ns).store(period.since_ns);
    Atomic(slot.busy_until_ns).store(period.until_ns);
    Atomic(slot.work_ns).store(work_ns);
    return Atomic(slot.owner).load() == owner;  // still ours (a stale steal may race)
  };
  if (hint < slots_.size() && Atomic(slots_[hint].owner).load() == owner && write(slots_[hint]))
    return;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    ActivitySlot& slot = slots_[i];
    std::uint64_t held = Atomic(slot.owner).load();
    bool mine = held == owner;
    bool claimed = false;
    if (!mine && held == 0) {
      claimed = Atomic(slot.owner).compare_exchange_strong(held, owner);
      mine = claimed || held == owner;
    } else if (!mine) {
      // A slot whose post ended long ago: its process is gone or idle. The end is reserved
      // first, so that two claimants (or the owner's claim still writing) never share a slot.
      std::int64_t until = Atomic(slot.busy_until_ns).load();
      if (until != 0 && until < now_ns - kActivityStaleNs &&
          Atomic(slot.busy_until_ns).compare_exchange_strong(until, now_ns)) {
        Atomic(slot.owner).store(owner);
        mine = claimed = true;
      }
    }
    if (claimed) {  // nothing of an earlier owner's periods is carried over
      Atomic(slot.last_since_ns).store(0);
      Atomic(slot.last_until_ns).store(0);
      Atomic(slot.busy_since_ns).store(period.since_ns);
    }
    if (mine && write(slot)) {
      hint = i;
      return;
    }
  }
}

void ActivityBoard::Withdraw(std::uint64_t owner) {
  for (ActivitySlot& slot : slots_) {
    if (Atomic(slot.owner).load() != owner) continue;
    Atomic(slot.busy_until_ns).store(0);
    std::uint64_t held = owner;
    Atomic(slot.owner).compare_exchange_strong(held, 0);
  }
}

int CountOverlapping(std::span<const ActivitySlot> slots, std::uint64_t owner, BusyPeriod period) {
  int count = 0;
  for (const ActivitySlot& slot : slots) {
    if (slot.owner == 0 || slot.owner == owner) continue;
    auto overlaps = [&](std::int64_t since, std::int64_t until) {
      return since < period.until_ns && until > period.since_ns;
    };
    if (overlaps(slot.busy_since_ns, slot.busy_until_ns) ||
        overlaps(slot.last_since_ns, slot.last_until_ns)) {
      ++count;
    }
  }
  return count;
}

DeviceActivity::DeviceActivity(std::string shared_dir, std::string view_dir,
                               std::vector<std::string> uuids)
    : shared_dir_(std::move(shared_dir)),
      view_dir_(std::move(view_dir)),
      uuids_(std::move(uuids)),
      owner_(NewOwner(std::random_device{}())) {
  timespec tick{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &tick);
  std::int64_t tick_ns = static_cast<std::int64_t>(tick.tv_sec) * 1'000'000'000 + tick.tv_nsec;
  slack_ns_ = std::max(kMinSlackNs, 2 * tick_ns);
}

DeviceActivity::~DeviceActivity() {
  for (Device& device : devices_) {
    if (device.slots != nullptr) {
      munmap(reinterpret_cast<char*>(device.slots) - sizeof(ActivityHeader), kActivityFileBytes);
    }
  }
}

// Random (PIDs repeat across the containers' PID namespaces), and cheap enough for a fork
// handler: the seed comes from std::random_device once, children mix in their pid and the time.
std::uint64_t DeviceActivity::NewOwner(std::uint64_t seed) {
  std::uint64_t token =
      Mix(seed ^ Mix(static_cast<std::uint64_t>(getpid())) ^
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return token == 0 ? 1 : token;
}

void DeviceActivity::ForgetOwnerInChild() {
  owner_.store(NewOwner(owner_.load()));
  for (Device& device : devices_) {
    device.queue_since.store(0);
    device.queue_end.store(0);
    device.posted.store(0);
    device.hint.store(kActivitySlots);
    device.work.store(0);
    device.seen_count = 0;
    device.seen_once = false;
  }
}

std::string DeviceActivity::Name(int device) const {
  auto index = static_cast<std::size_t>(device);
  return index < uuids_.size() && !uuids_[index].empty() ? uuids_[index]
                                                         : "device-" + std::to_string(device);
}

DeviceActivity::Device* DeviceActivity::Map(int device) {
  if (shared_dir_.empty() || view_dir_.empty() || device < 0 ||
      device >= static_cast<int>(devices_.size())) {
    return nullptr;
  }
  Device& entry = devices_[static_cast<std::size_t>(device)];
  std::call_once(entry.mapped, [&] {
    if (void* file = MapOwnBoard(shared_dir_ + "/activity-" + Name(device)))
      entry.slots = SlotsOf(file);
  });
  return entry.slots == nullptr ? nullptr : &entry;
}

bool DeviceActivity::Posts(int device) { return Map(device) != nullptr; }

std::int64_t DeviceActivity::QueueEnd(int device) {
  Device* entry = Map(device);
  return entry == nullptr ? 0 : entry->queue_end.load(std::memory_order_relaxed);
}

void DeviceActivity::NoteLaunch(int device, std::int64_t cost_ns, std::int64_t now_ns) {
  Device* entry = Map(device);
  if (entry == nullptr) return;
  // Plain loads and stores, not compare-and-swap: threads launching at once may lose a little
  // of each other's queued work, which the slack covers; launches stay cheap.
  // Unlike the queue's end, the total is never lost to another thread: it only adds up.
  const std::int64_t work = entry->work.fetch_add(cost_ns, std::memory_order_relaxed) + cost_ns;
  const std::int64_t end = entry->queue_end.load(std::memory_order_relaxed);
  const std::int64_t posted = entry->posted.load(std::memory_order_relaxed);
  if (posted < now_ns) entry->queue_since.store(now_ns, std::memory_order_relaxed);  // was idle
  const std::int64_t next = std::min(std::max(end, now_ns) + cost_ns, now_ns + kMaxAheadNs);
  entry->queue_end.store(next, std::memory_order_relaxed);
  // The queued work is posted stretched (kPostedStretch) from now on, not added up stretched:
  // a process using more than half the GPU would otherwise post further and further ahead.
  const std::int64_t busy_until = now_ns + (next - now_ns) * kPostedStretch;
  if (busy_until > posted) {
    const std::int64_t post = busy_until + slack_ns_;
    entry->posted.store(post, std::memory_order_relaxed);
    std::size_t hint = entry->hint.load(std::memory_order_relaxed);
    ActivityBoard({entry->slots, kActivitySlots})
        .Post(owner_.load(std::memory_order_relaxed),
              {entry->queue_since.load(std::memory_order_relaxed), post}, work, now_ns, hint);
    entry->hint.store(hint, std::memory_order_relaxed);
  }
}

template <typename Visit>
void DeviceActivity::ForEachBoard(int device, Visit&& visit) {
  if (view_dir_.empty()) return;
  int dir_fd = open((view_dir_ + "/" + Name(device)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return;
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return;
  }
  std::array<ActivitySlot, kActivitySlots> slots{};
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::size_t read = ReadBoard(dirfd(dir), entry->d_name, slots);
    visit(std::span<const ActivitySlot>(slots.data(), read));
  }
  closedir(dir);
}

int DeviceActivity::Contenders(int device, BusyPeriod period) {
  const std::uint64_t owner = owner_.load();
  int count = 0;
  ForEachBoard(device, [&](std::span<const ActivitySlot> slots) {
    count += CountOverlapping(slots, owner, period);
  });
  return count;
}

std::optional<std::int64_t> DeviceActivity::WorkSince(int device, std::int64_t now_ns) {
  Device* entry = Map(device);
  if (entry == nullptr) return std::nullopt;
  const std::uint64_t own = owner_.load();
  std::array<Device::OwnerWork, std::tuple_size_v<decltype(entry->seen)>> now{};
  std::size_t count = 0;
  bool complete = true;
  auto add = [&](std::uint64_t owner, std::int64_t work_ns) {
    if (count == now.size()) {
      complete = false;
      return;
    }
    now[count++] = {owner, work_ns};
  };
  add(own, entry->work.load(std::memory_order_relaxed));  // newer than its post
  ForEachBoard(device, [&](std::span<const ActivitySlot> slots) {
    for (const ActivitySlot& slot : slots) {
      if (slot.owner != 0 && slot.owner != own && slot.work_ns >= 0) add(slot.owner, slot.work_ns);
    }
  });
  auto by_owner = [](const Device::OwnerWork& a, const Device::OwnerWork& b) {
    return a.owner < b.owner;
  };
  std::sort(now.begin(), now.begin() + static_cast<std::ptrdiff_t>(count), by_owner);
  // The same processes as last time: the sum of what they added, each bounded (totals are
  // non-negative, so the differences cannot overflow).
  bool same = complete && entry->seen_once && count == entry->seen_count;
  const std::int64_t most = std::max<std::int64_t>(now_ns - entry->seen_ns, 0) + kMaxAheadNs;
  std::int64_t added = 0;
  for (std::size_t i = 0; same && i < count; ++i) {
    same = now[i].owner == entry->seen[i].owner;
    added += std::clamp<std::int64_t>(now[i].work_ns - entry->seen[i].work_ns, 0, most);
  }
  std::copy(now.begin(), now.begin() + static_cast<std::ptrdiff_t>(count), entry->seen.begin());
  entry->seen_count = complete ? count : 0;
  entry->seen_once = complete;
  entry->seen_ns = now_ns;
  if (!same) return std::nullopt;
  return added;
}

void DeviceActivity::Withdraw() {
  const std::uint64_t owner = owner_.load();
  for (Device& device : devices_) {
    if (device.slots != nullptr) ActivityBoard({device.slots, kActivitySlots}).Withdraw(owner);
  }
}

}  // namespace flexai::isolation
