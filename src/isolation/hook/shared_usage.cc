#include "isolation/hook/shared_usage.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace flexai::isolation {
namespace {

template <typename T>
std::atomic_ref<T> Atomic(T& value) {
  return std::atomic_ref<T>(value);
}

constexpr std::int64_t kShareWindowNs = 1'000'000'000;
// Burst allowance of the token bucket: this much wall time worth of the share.
constexpr std::int64_t kBurstWallNs = 20'000'000;

void SubtractClamped(std::uint64_t& field, std::uint64_t bytes) {
  auto value = Atomic(field);
  std::uint64_t current = value.load();
  while (!value.compare_exchange_weak(current, current >= bytes ? current - bytes : 0)) {
  }
}

void RaiseTo(std::uint64_t& field, std::uint64_t candidate) {
  auto value = Atomic(field);
  std::uint64_t current = value.load();
  while (current < candidate && !value.compare_exchange_weak(current, candidate)) {
  }
}

// Limits come from the environment of the process that creates the file and are never
// rewritten: a later process started with other (or no) limits cannot change the container's
// quota; it enforces the stricter of the file's and its own (see SharedUsage::LimitBytes).
void WriteLimits(UsageFile& file, const HookConfig& config) {
  std::size_t listed = std::max(config.memory_bytes.size(), config.cores_percent.size());
  std::uint32_t count = static_cast<std::uint32_t>(
      std::min<std::size_t>(std::max<std::size_t>(listed, 1), kUsageMaxDevices));
  Atomic(file.header.device_count).store(count);
  Atomic(file.header.mode).store(static_cast<std::uint32_t>(config.mode));
  for (std::uint32_t d = 0; d < kUsageMaxDevices; ++d) {
    Atomic(file.devices[d].limit_bytes).store(config.MemoryLimitBytes(static_cast<int>(d)));
    Atomic(file.devices[d].cores_percent).store(config.CoresPercent(static_cast<int>(d)));
  }
}

void WriteHeader(UsageFile& file, const HookConfig& config) {
  std::memset(&file, 0, sizeof(UsageFile));
  UsageHeader& header = file.header;
  header.version = kUsageVersion;
  header.header_bytes = sizeof(UsageHeader);
  header.device_bytes = sizeof(UsageDevice);
  header.process_bytes = sizeof(UsageProcess);
  header.device_capacity = kUsageMaxDevices;
  header.process_capacity = kUsageMaxProcesses;
  header.created_unix_ns =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  WriteLimits(file, config);
  // The magic goes last: a reader that sees it sees a complete header and the limits.
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(header.magic, kUsageMagic, sizeof(kUsageMagic));
}

UsageFile* MapAnonymous() {
  void* memory =
      mmap(nullptr, kUsageFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? nullptr : static_cast<UsageFile*>(memory);
}

// Opens and maps the shared file under an exclusive flock so only one process initialises it.
UsageFile* MapSharedFile(const std::string& path, const HookConfig& config, std::string& warning) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    warning = "cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  fchmod(fd, 0666);  // every user of the container shares one file, whatever the umask
  flock(fd, LOCK_EX);
  struct stat info {};
  fstat(fd, &info);
  bool fresh = static_cast<std::size_t>(info.st_size) < sizeof(UsageHeader);
  // Blocks are allocated, not just a sparse size: on a full filesystem writing the mapping would
  // otherwise kill the process with SIGBUS instead of falling back to private accounting.
  int sized = fresh ? posix_fallocate(fd, 0, static_cast<off_t>(kUsageFileBytes)) : 0;
  if (sized != 0) {
    int emptied = ftruncate(fd, 0);  // a partial allocation: the next process starts afresh
    (void)emptied;
    warning = "cannot size " + path + ": " + std::strerror(sized);
    flock(fd, LOCK_UN);
    close(fd);
    return nullptr;
  }
  UsageFile* file = nullptr;
  if (fresh || static_cast<std::size_t>(info.st_size) == kUsageFileBytes) {
    void* memory = mmap(nullptr, kUsageFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (memory != MAP_FAILED) file = static_cast<UsageFile*>(memory);
  }
  bool never_initialised =
      file != nullptr && !fresh &&
      std::all_of(file->header.magic, file->header.magic + 8, [](char c) { return c == 0; });
  if (file != nullptr && (fresh || never_initialised)) {
    WriteHeader(*file, config);
  } else if (file != nullptr &&
             (std::memcmp(file->header.magic, kUsageMagic, sizeof(kUsageMagic)) != 0 ||
              file->header.version != kUsageVersion)) {
    warning = path + " has another format or version";
    munmap(file, kUsageFileBytes);
    file = nullptr;
  } else if (file == nullptr) {
    warning = path + " has an unexpected size or cannot be mapped";
  }
  flock(fd, LOCK_UN);
  close(fd);
  return file;
}

}  // namespace

std::uint64_t ProcessStartTicks(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* stat_file = std::fopen(path, "re");
  if (stat_file == nullptr) return 0;
  char buffer[1024] = {};
  std::size_t length = std::fread(buffer, 1, sizeof(buffer) - 1, stat_file);
  std::fclose(stat_file);
  buffer[length] = '\0';
  const char* after_name = std::strrchr(buffer, ')');  // the command name may hold spaces
  if (after_name == nullptr) return 0;
  // Fields after the name start at field 3 (state); start time is field 22.
  const char* cursor = after_name + 1;
  for (int field = 3; field < 22 && cursor != nullptr; ++field)
    cursor = std::strchr(cursor + 1, ' ');
  return cursor == nullptr ? 0 : std::strtoull(cursor + 1, nullptr, 10);
}

bool ProcessIsGone(int pid, std::uint64_t start_ticks) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* stat_file = std::fopen(path, "re");
  if (stat_file == nullptr) return false;  // no /proc: trust kill()
  char buffer[512] = {};
  std::size_t length = std::fread(buffer, 1, sizeof(buffer) - 1, stat_file);
  std::fclose(stat_file);
  buffer[length] = '\0';
  const char* after_name = std::strrchr(buffer, ')');
  if (after_name != nullptr && (after_name[2] == 'Z' || after_name[2] == 'X')) return true;
  return start_ticks != 0 && ProcessStartTicks(pid) != start_ticks;
}

std::unique_ptr<SharedUsage> SharedUsage::Open(const HookConfig& config, std::string& warning) {
  if (!config.shared_dir.empty()) {
    std::string path = config.shared_dir + "/" + kUsageFileName;
    if (UsageFile* file = MapSharedFile(path, config, warning)) {
      return std::unique_ptr<SharedUsage>(new SharedUsage(file, path, config));
    }
    warning += "; accounting is private to this process and its children";
  }
  UsageFile* file = MapAnonymous();
  if (file == nullptr) return nullptr;
  WriteHeader(*file, config);
  return std::unique_ptr<SharedUsage>(new SharedUsage(file, "", config));
}

SharedUsage::~SharedUsage() { munmap(file_, kUsageFileBytes); }

UsageDevice* SharedUsage::Device(int device) const {
  if (device < 0 || device >= static_cast<int>(kUsageMaxDevices)) return nullptr;
  return &file_->devices[device];
}

UsageProcess* SharedUsage::OwnSlot() {
  int pid = static_cast<int>(getpid());
  auto slot_if_owned = [&]() -> int { return own_pid_.load() == pid ? own_slot_.load() : -1; };
  if (int slot = slot_if_owned(); slot != -1) return slot >= 0 ? &file_->processes[slot] : nullptr;
  while (claiming_.exchange(true, std::memory_order_acquire)) {
  }
  int slot = slot_if_owned();
  for (int attempt = 0; slot == -1 && attempt < 2; ++attempt) {
    for (int candidate = 0; candidate < static_cast<int>(kUsageMaxProcesses); ++candidate) {
      std::int32_t expected = 0;
      UsageProcess& process = file_->processes[candidate];
      if (Atomic(process.pid).compare_exchange_strong(expected, pid)) {
        for (auto& used : process.used_bytes) Atomic(used).store(0);
        Atomic(process.start_ticks).store(ProcessStartTicks(pid));
        slot = candidate;
        break;
      }
    }
    if (slot == -1) ReclaimDeadProcesses();
  }
  if (slot == -1) slot = -2;  // table full: this process is counted in the totals only
  own_slot_.store(slot);
  own_pid_.store(pid);
  claiming_.store(false, std::memory_order_release);
  return slot >= 0 ? &file_->processes[slot] : nullptr;
}

void SharedUsage::ForgetProcessSlot() {
  own_pid_.store(0);
  own_slot_.store(-1);
  claiming_.store(false);
  in_flight_.store(0);  // calls of the parent's other threads, which the child does not have
}

// Counts a Reserve/Release under way, so that ReleaseThisProcess frees the slot only after every
// change a thread already began has landed (else the slot freed at exit would be charged again,
// or a free subtracted twice, and the device total would drift for good).
class SharedUsage::InFlight {
 public:
  explicit InFlight(SharedUsage& usage) : usage_(usage) { usage_.in_flight_.fetch_add(1); }
  ~InFlight() { usage_.in_flight_.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  // After ReleaseThisProcess: nothing is counted any more.
  bool released() const { return usage_.released_.load(); }

 private:
  SharedUsage& usage_;
};

bool SharedUsage::Reserve(int device, std::uint64_t bytes, bool enforce) {
  InFlight in_flight(*this);
  if (in_flight.released()) return true;  // exiting: nothing is counted
  UsageDevice* entry = Device(device);
  if (entry == nullptr) return !enforce;
  std::uint64_t limit = LimitBytes(device);
  auto used = Atomic(entry->used_bytes);
  std::uint64_t current = used.load();
  do {
    if (enforce && (current > limit || bytes > limit - current)) return false;
  } while (!used.compare_exchange_weak(current, current + bytes));
  RaiseTo(entry->peak_bytes, current + bytes);
  if (UsageProcess* process = OwnSlot()) Atomic(process->used_bytes[device]).fetch_add(bytes);
  return true;
}

void SharedUsage::Release(int device, std::uint64_t bytes) {
  InFlight in_flight(*this);
  if (in_flight.released()) return;  // already returned at exit
  UsageDevice* entry = Device(device);
  if (entry == nullptr) return;
  SubtractClamped(entry->used_bytes, bytes);
  if (UsageProcess* process = OwnSlot()) SubtractClamped(process->used_bytes[device], bytes);
}

void SharedUsage::CountRefusal(int device) {
  if (UsageDevice* entry = Device(device)) Atomic(entry->refused_total).fetch_add(1);
}

std::uint64_t SharedUsage::UsedBytes(int device) const {
  UsageDevice* entry = Device(device);
  return entry == nullptr ? 0 : Atomic(entry->used_bytes).load();
}

std::uint64_t SharedUsage::LimitBytes(int device) const {
  std::uint64_t own = own_.MemoryLimitBytes(device);
  UsageDevice* entry = Device(device);
  return entry == nullptr ? own : std::min(own, Atomic(entry->limit_bytes).load());
}

std::uint32_t SharedUsage::CoresPercent(int device) const {
  std::uint32_t own = own_.CoresPercent(device);
  UsageDevice* entry = Device(device);
  std::uint32_t recorded = entry == nullptr ? 0 : Atomic(entry->cores_percent).load();
  return recorded == 0 ? own : std::min(own, recorded);
}

bool SharedUsage::FreeSlot(UsageProcess& process, std::int32_t pid) {
  // Claim the slot first so two reclaimers never subtract the same memory twice.
  if (!Atomic(process.pid).compare_exchange_strong(pid, -1)) return false;
  for (std::uint32_t d = 0; d < kUsageMaxDevices; ++d) {
    std::uint64_t bytes = Atomic(process.used_bytes[d]).exchange(0);
    if (bytes > 0) SubtractClamped(file_->devices[d].used_bytes, bytes);
  }
  Atomic(process.start_ticks).store(0);
  Atomic(process.pid).store(0);
  return true;
}

int SharedUsage::ReclaimDeadProcesses() {
  int reclaimed = 0;
  for (UsageProcess& process : file_->processes) {
    // Our own pid is not skipped: a slot with our pid but another start time was left by an
    // earlier container whose pid namespace reused the number. A slot being claimed has start
    // time 0 until its owner records it, and is never taken for gone.
    std::int32_t pid = Atomic(process.pid).load();
    if (pid <= 0 || !ProcessIsGone(pid, Atomic(process.start_ticks).load())) continue;
    if (FreeSlot(process, pid)) ++reclaimed;
  }
  return reclaimed;
}

int SharedUsage::ReclaimEarlierImage() {
  const auto pid = static_cast<std::int32_t>(getpid());
  const std::uint64_t start = ProcessStartTicks(pid);
  if (start == 0 || own_pid_.load() == pid) return 0;  // unknown, or this image has a slot
  int reclaimed = 0;
  for (UsageProcess& process : file_->processes) {
    if (Atomic(process.pid).load() == pid && Atomic(process.start_ticks).load() == start &&
        FreeSlot(process, pid)) {
      ++reclaimed;
    }
  }
  return reclaimed;
}

void SharedUsage::ReleaseThisProcess() {
  const auto pid = static_cast<std::int32_t>(getpid());
  int slot = own_slot_.load();
  if (own_pid_.load() != pid || slot < 0) return;  // a fork child that never allocated, or none
  released_.store(true);
  // Changes already begun land first (they never block, so this is short; bounded anyway).
  for (int spins = 0; in_flight_.load() > 0 && spins < 100'000; ++spins) sched_yield();
  FreeSlot(file_->processes[slot], pid);
}

std::int64_t SharedUsage::TakeLaunchTokens(int device, std::int64_t cost_ns, std::int64_t now_ns,
                                           std::uint32_t percent) {
  UsageDevice* entry = Device(device);
  if (entry == nullptr || percent >= 100 || percent == 0) return 0;
  const std::int64_t burst = kBurstWallNs * percent / 100;
  auto refill_at = Atomic(entry->refill_at_ns);
  auto tokens = Atomic(entry->tokens_ns);
  std::int64_t last = refill_at.load();
  if (now_ns > last && refill_at.compare_exchange_strong(last, now_ns)) {
    std::int64_t earned = std::min<std::int64_t>(now_ns - last, kShareWindowNs) * percent / 100;
    std::int64_t balance = tokens.load();
    while (!tokens.compare_exchange_weak(balance, std::min(balance + earned, burst))) {
    }
  }
  std::int64_t balance = tokens.fetch_sub(cost_ns) - cost_ns;
  return balance >= 0 ? 0 : -balance * 100 / percent;
}

void SharedUsage::RecordLaunches(int device, std::uint64_t launches, std::int64_t cost_ns,
                                 std::int64_t now_ns) {
  UsageDevice* entry = Device(device);
  if (entry == nullptr) return;
  std::uint64_t cost = static_cast<std::uint64_t>(std::max<std::int64_t>(cost_ns, 0));
  Atomic(entry->launches_total).fetch_add(launches);
  Atomic(entry->busy_ns_total).fetch_add(cost);
  Atomic(entry->window_busy_ns).fetch_add(cost);
  auto window_start = Atomic(entry->window_start_ns);
  std::int64_t start = window_start.load();
  if (start == 0) {
    window_start.compare_exchange_strong(start, now_ns);
  } else if (now_ns - start >= kShareWindowNs &&
             window_start.compare_exchange_strong(start, now_ns)) {
    std::uint64_t busy = Atomic(entry->window_busy_ns).exchange(0);
    std::uint64_t permille = busy * 1000 / static_cast<std::uint64_t>(now_ns - start);
    Atomic(entry->sm_share_permille)
        .store(static_cast<std::uint32_t>(std::min<std::uint64_t>(permille, 1000)));
  }
}

}  // namespace flexai::isolation
