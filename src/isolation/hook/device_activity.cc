#include "isolation/hook/device_activity.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

ActivitySlot* MapBoard(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return nullptr;
  fchmod(fd, 0666);  // processes of any user in any container share it
  struct stat info {};
  // Blocks are allocated, not just a sparse size: writes to the mapping cannot SIGBUS later.
  bool sized = fstat(fd, &info) == 0 &&
               (static_cast<std::size_t>(info.st_size) >= kActivityFileBytes ||
                posix_fallocate(fd, 0, static_cast<off_t>(kActivityFileBytes)) == 0);
  void* memory = sized
                     ? mmap(nullptr, kActivityFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                     : MAP_FAILED;
  close(fd);
  return memory == MAP_FAILED ? nullptr : static_cast<ActivitySlot*>(memory);
}

}  // namespace

void ActivityBoard::Post(std::uint64_t owner, std::int64_t busy_until_ns, std::int64_t now_ns,
                         std::size_t& hint) {
  if (hint < slots_.size() && Atomic(slots_[hint].owner).load() == owner) {
    Atomic(slots_[hint].busy_until_ns).store(busy_until_ns);
    return;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    ActivitySlot& slot = slots_[i];
    std::uint64_t held = Atomic(slot.owner).load();
    bool free = held == 0 || Atomic(slot.busy_until_ns).load() < now_ns - kActivityStaleNs;
    if (held == owner || (free && Atomic(slot.owner).compare_exchange_strong(held, owner))) {
      Atomic(slot.busy_until_ns).store(busy_until_ns);
      hint = i;
      return;
    }
  }
}

bool ActivityBoard::OthersBusyAfter(std::uint64_t owner, std::int64_t since_ns) const {
  return std::any_of(slots_.begin(), slots_.end(), [&](ActivitySlot& slot) {
    std::uint64_t held = Atomic(slot.owner).load();
    return held != 0 && held != owner && Atomic(slot.busy_until_ns).load() > since_ns;
  });
}

DeviceActivity::DeviceActivity(std::string dir, std::vector<std::string> uuids)
    : dir_(std::move(dir)), uuids_(std::move(uuids)) {}

DeviceActivity::~DeviceActivity() {
  for (Device& device : devices_) {
    if (device.slots != nullptr) munmap(device.slots, kActivityFileBytes);
  }
}

// Random, since PIDs repeat across the containers' PID namespaces.
std::uint64_t DeviceActivity::NewOwner() {
  std::random_device entropy;
  std::uint64_t token =
      (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      static_cast<std::uint64_t>(getpid());
  return token == 0 ? 1 : token;
}

void DeviceActivity::ForgetOwnerInChild() {
  owner_.store(NewOwner());
  for (Device& device : devices_) {
    device.posted.store(0);
    device.queue_end.store(0);
    device.hint.store(kActivitySlots);
  }
}

DeviceActivity::Device* DeviceActivity::Map(int device) {
  if (dir_.empty() || device < 0 || device >= static_cast<int>(devices_.size())) return nullptr;
  Device& entry = devices_[static_cast<std::size_t>(device)];
  std::call_once(entry.mapped, [&] {
    std::string name = static_cast<std::size_t>(device) < uuids_.size() &&
                               !uuids_[static_cast<std::size_t>(device)].empty()
                           ? uuids_[static_cast<std::size_t>(device)]
                           : "device-" + std::to_string(device);
    entry.slots = MapBoard(dir_ + "/" + name);
  });
  return entry.slots == nullptr ? nullptr : &entry;
}

void DeviceActivity::NoteLaunch(int device, std::int64_t cost_ns, std::int64_t now_ns) {
  Device* entry = Map(device);
  if (entry == nullptr) return;
  // Plain load and store, not a compare-and-swap: threads launching at once may lose a little
  // of each other's queued work, which the slack covers; launches stay cheap.
  std::int64_t next =
      std::max(entry->queue_end.load(std::memory_order_relaxed), now_ns) + cost_ns * kPostedStretch;
  entry->queue_end.store(next, std::memory_order_relaxed);
  if (next <= entry->posted.load(std::memory_order_relaxed)) return;  // still covered
  const std::int64_t post = next + kPostSlackNs;
  entry->posted.store(post, std::memory_order_relaxed);
  std::size_t hint = entry->hint.load(std::memory_order_relaxed);
  ActivityBoard({entry->slots, kActivitySlots})
      .Post(owner_.load(std::memory_order_relaxed), post, now_ns, hint);
  entry->hint.store(hint, std::memory_order_relaxed);
}

bool DeviceActivity::Contended(int device, std::int64_t since_ns) {
  Device* entry = Map(device);
  return entry != nullptr &&
         ActivityBoard({entry->slots, kActivitySlots}).OthersBusyAfter(owner_.load(), since_ns);
}

}  // namespace flexai::isolation
