#include "isolation/hook/driver_share.h"

#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <system_error>
#include <vector>

#include "isolation/activity_folder.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"
#include "isolation/pid_namespace.h"

namespace flexai::isolation {

bool DriverShare::Load() {
  if (loaded_) return usable_;
  loaded_ = true;
  // Kept loaded for the life of the process (NVML is refcounted; the program may use it too).
  void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return false;
  auto load = [&](auto& field, const char* name, const char* fallback) {
    void* symbol = RealDlsym()(library, name);
    if (symbol == nullptr && fallback != nullptr) symbol = RealDlsym()(library, fallback);
    field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(symbol);
  };
  load(api_.init, "nvmlInit_v2", "nvmlInit");
  load(api_.handle_by_uuid, "nvmlDeviceGetHandleByUUID", nullptr);
  load(api_.processes, "nvmlDeviceGetComputeRunningProcesses_v3",
       "nvmlDeviceGetComputeRunningProcesses_v2");
  load(api_.utilization, "nvmlDeviceGetProcessUtilization", nullptr);
  usable_ = api_.init != nullptr && api_.handle_by_uuid != nullptr && api_.processes != nullptr &&
            api_.utilization != nullptr && api_.init() == nvml::NVML_SUCCESS;
  if (!usable_ && State().config.debug) HookLog("NVML is not usable: no share calibration");
  return usable_;
}

namespace {

constexpr int kAskTimeoutMs = 200;
constexpr std::int64_t kAskAgainNs = 30'000'000'000;

// Waits until `deadline_ns` (CLOCK_MONOTONIC) at most for `events` on `fd`.
bool Ready(int fd, short events, std::int64_t deadline_ns) {
  pollfd entry{fd, events, 0};
  while (true) {
    std::int64_t left_ms = (deadline_ns - NowNs()) / 1'000'000;
    if (left_ms <= 0) return false;
    int ready = poll(&entry, 1, static_cast<int>(left_ms));
    if (ready >= 0 || errno != EINTR) return ready > 0;
  }
}

// The device plugin's answer on `path` (see isolation::kHostPidSocketName): the PID, or 0. Never
// waits more than kAskTimeoutMs in all: it runs inside a kernel launch.
int AskHostPid(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return 0;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  const std::int64_t deadline = NowNs() + std::int64_t{kAskTimeoutMs} * 1'000'000;
  char answer[32] = {};
  std::size_t got = 0;
  // A unix socket connects at once or not at all (a full backlog: EAGAIN, asked again later).
  bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  while (connected && got < sizeof(answer) && (got == 0 || answer[got - 1] != '\n') &&
         Ready(fd, POLLIN, deadline)) {
    ssize_t n = read(fd, answer + got, sizeof(answer) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  int pid = 0;
  if (got == 0 || answer[got - 1] != '\n') return 0;
  auto [end, error] = std::from_chars(answer, answer + got - 1, pid);
  return error == std::errc() && end == answer + got - 1 && pid > 0 ? pid : 0;
}

}  // namespace

// The device plugin's answer first (a pod's process cannot know its host PID); else its own PID
// where that is the host's; else none for now, asked again later (the plugin may be restarting).
int DriverShare::NvmlPid(const std::string& uuid) {
  const int pid = static_cast<int>(getpid());
  if (nvml_pid_of_ != pid) {  // first call, or a fork child
    nvml_pid_of_ = pid;
    nvml_pid_ = 0;
    next_ask_ns_ = 0;
  }
  if (nvml_pid_ > 0) return nvml_pid_;
  const std::int64_t now = NowNs();
  if (now < next_ask_ns_) return 0;
  const std::string& folders = State().config.activity_dir;
  const std::string path = folders.empty()
                               ? std::string()
                               : folders + "/" + uuid + "/" + std::string(kHostPidSocketName);
  int answer = path.empty() ? 0 : AskHostPid(path);
  if (answer > 0) {
    nvml_pid_ = answer;
  } else if (InHostPidNamespace()) {
    nvml_pid_ = pid;
  } else {
    next_ask_ns_ = now + kAskAgainNs;
    if (State().config.debug) {
      HookLog(("no host PID for this process (pid " + std::to_string(pid) + ", in a PID namespace" +
               (path.empty() ? std::string("; FLEXAI_ACTIVITY_DIR is not set)")
                             : std::string("; no answer from ") + path + ")") +
               ": no share calibration until one comes")
                  .c_str());
    }
    return 0;
  }
  if (State().config.debug && nvml_pid_ != pid) {
    HookLog(("NVML knows this process (pid " + std::to_string(pid) + ") as pid " +
             std::to_string(nvml_pid_) + " (the device plugin's answer)")
                .c_str());
  }
  return nvml_pid_;
}

// Whether NVML lists `pid` among the GPU's compute processes: only then are its samples ours.
bool DriverShare::Listed(Device& entry, int pid) {
  const std::int64_t now = NowNs();
  if (entry.checked_pid == pid && (entry.listed || now - entry.checked_ns < kAskAgainNs))
    return entry.listed;
  std::vector<nvml::nvmlProcessInfo_t> processes(64);
  unsigned int count = static_cast<unsigned int>(processes.size());
  nvml::nvmlReturn_t result = api_.processes(entry.handle, &count, processes.data());
  if (result == nvml::NVML_ERROR_INSUFFICIENT_SIZE) {
    processes.resize(count + 16);
    count = static_cast<unsigned int>(processes.size());
    result = api_.processes(entry.handle, &count, processes.data());
  }
  if (result != nvml::NVML_SUCCESS) return false;  // asked again next time
  count = std::min<unsigned int>(count, static_cast<unsigned int>(processes.size()));
  const bool logged = entry.checked_pid == pid;  // said once per PID
  entry.checked_pid = pid;
  entry.checked_ns = now;
  entry.listed =
      std::any_of(processes.begin(), processes.begin() + count,
                  [&](const auto& process) { return static_cast<int>(process.pid) == pid; });
  if (!entry.listed && !logged && State().config.debug) {
    HookLog(("NVML does not list this process (as pid " + std::to_string(pid) + ") on " +
             entry.uuid +
             ": no share calibration there (in a pod's PID namespace, the device plugin needs "
             "hostPID to tell it its host PID)")
                .c_str());
  }
  return entry.listed;
}

void DriverShare::ResetInChild() {
  new (&mutex_) std::mutex();
  for (Device& entry : devices_) entry.checked_pid = 0;
  nvml_pid_of_ = 0;
  nvml_pid_ = 0;
}

std::optional<double> DriverShare::Latest(int device, const std::string& uuid, bool* busy) {
  if (device < 0 || device >= static_cast<int>(devices_.size()) || uuid.empty()) return {};
  // Another thread is asking (for another device, or loading NVML): a launch never waits for it.
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (busy != nullptr) *busy = true;
    return {};
  }
  if (!Load()) return {};
  Device& entry = devices_[static_cast<std::size_t>(device)];
  if (entry.handle == nullptr || entry.uuid != uuid) {
    entry = {};
    entry.uuid = uuid;
    if (api_.handle_by_uuid(uuid.c_str(), &entry.handle) != nvml::NVML_SUCCESS) {
      entry.handle = nullptr;
      return {};
    }
  }
  const int pid = NvmlPid(uuid);
  if (pid == 0 || !Listed(entry, pid)) return {};
  std::vector<nvml::nvmlProcessUtilizationSample_t> samples(64);
  unsigned int count = static_cast<unsigned int>(samples.size());
  nvml::nvmlReturn_t result =
      api_.utilization(entry.handle, samples.data(), &count, entry.last_seen_us);
  if (result == nvml::NVML_ERROR_INSUFFICIENT_SIZE) {
    samples.resize(count + 16);
    count = static_cast<unsigned int>(samples.size());
    result = api_.utilization(entry.handle, samples.data(), &count, entry.last_seen_us);
  }
  if (result != nvml::NVML_SUCCESS) return {};  // NOT_FOUND: no period ended since
  count = std::min<unsigned int>(count, static_cast<unsigned int>(samples.size()));
  // The mean over this process's new periods. A period in which it did not run has no sample
  // of it; leaving such periods out errs towards charging more, never less.
  double sum = 0;
  int periods = 0;
  unsigned long long newest = entry.last_seen_us;
  for (unsigned int i = 0; i < count; ++i) {
    newest = std::max(newest, samples[i].timeStamp);
    if (static_cast<int>(samples[i].pid) != pid || samples[i].timeStamp <= entry.last_seen_us)
      continue;
    sum += std::min(samples[i].smUtil, 100u) / 100.0;
    ++periods;
  }
  entry.last_seen_us = newest;
  if (periods == 0) return {};
  // Shares of time on a time-sliced GPU add up to 100% at most. Figures that do not (a driver
  // that reports something else per process) are not used: calibrating to them could only hurt.
  std::map<unsigned int, std::pair<unsigned long long, unsigned int>> latest;  // pid: time, util
  for (unsigned int i = 0; i < count; ++i) {
    auto& [when, util] = latest[samples[i].pid];
    if (samples[i].timeStamp >= when) {
      when = samples[i].timeStamp;
      util = samples[i].smUtil;
    }
  }
  unsigned int total = 0;
  for (const auto& [process, sample] : latest) total += sample.second;
  if (total > 110) {
    if (State().config.debug) {
      HookLog(("NVML's per-process SM utilisation on " + entry.uuid + " adds up to " +
               std::to_string(total) + "%: not shares of time, not used for calibration")
                  .c_str());
    }
    return {};
  }
  return sum / periods;
}

}  // namespace flexai::isolation
