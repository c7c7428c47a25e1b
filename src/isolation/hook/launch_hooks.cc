// Launch hooks: each kernel or graph launch is charged its estimated GPU time against the
// device's token bucket (refilled at the slice's share of wall time) and waits when the bucket is
// in debt. Estimates come from sampled event timings around launches (see LaunchCostModel).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "isolation/hook/hook_exports.h"
#include "isolation/hook/hook_state.h"
#include "isolation/hook/hook_symbols.h"

namespace flexai::isolation {
namespace {

using cuda::CUDA_SUCCESS;
using cuda::CUevent;
using cuda::CUresult;
using cuda::CUstream;

// One timed launch in this many per thread: often enough to follow a throttled workload, rarely
// when the samples only feed the live share estimate (keeps unthrottled overhead negligible).
constexpr unsigned kSampleEveryThrottled = 16;
constexpr unsigned kSampleEveryUnthrottled = 1024;
constexpr unsigned kPollEvery = 16;  // a pending sample is checked on every 16th launch
constexpr std::int64_t kMaxWaitNs = 1'000'000'000;  // a single launch never waits longer
// How long the first throttled launch of a kernel waits for its own timing (most kernels are
// shorter); a longer one is settled by a later launch of the thread. Bounded, never "until the
// kernel ends", so a kernel that needs its host thread to go on cannot deadlock.
constexpr std::int64_t kFirstSampleWaitNs = 50'000'000;
constexpr std::int64_t kAbandonSampleNs = 10'000'000'000;

struct EventApi {
  CUresult (*create)(CUevent*, unsigned) = nullptr;
  CUresult (*record)(CUevent, CUstream) = nullptr;
  CUresult (*record_ptsz)(CUevent, CUstream) = nullptr;
  CUresult (*query)(CUevent) = nullptr;
  CUresult (*synchronize)(CUevent) = nullptr;
  CUresult (*elapsed)(float*, CUevent, CUevent) = nullptr;
  CUresult (*destroy)(CUevent) = nullptr;
  CUresult (*is_capturing)(CUstream, int*) = nullptr;
  CUresult (*is_capturing_ptsz)(CUstream, int*) = nullptr;
  bool usable() const { return create && record && query && synchronize && elapsed && destroy; }
};

const EventApi& Events() {
  static const EventApi api = [] {
    EventApi events;
    auto load = [](auto& field, const char* name, const char* fallback) {
      void* symbol = RealLibcudaSymbol(name);
      if (symbol == nullptr && fallback != nullptr) symbol = RealLibcudaSymbol(fallback);
      field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(symbol);
    };
    load(events.create, "cuEventCreate", nullptr);
    load(events.record, "cuEventRecord", nullptr);
    load(events.record_ptsz, "cuEventRecord_ptsz", "cuEventRecord");
    load(events.query, "cuEventQuery", nullptr);
    load(events.synchronize, "cuEventSynchronize", nullptr);
    load(events.elapsed, "cuEventElapsedTime_v2", "cuEventElapsedTime");
    load(events.destroy, "cuEventDestroy_v2", "cuEventDestroy");
    load(events.is_capturing, "cuStreamIsCapturing", nullptr);
    load(events.is_capturing_ptsz, "cuStreamIsCapturing_ptsz", "cuStreamIsCapturing");
    return events;
  }();
  return api;
}

// A timed launch of one thread whose end event has not been read yet. The first throttled launch
// of a kernel, and any launch of the same kernel while its timing is awaited, was charged a guess;
// when the timing arrives the difference is settled.
struct PendingSample {
  const void* key = nullptr;
  CUevent start = nullptr;
  CUevent end = nullptr;
  std::int64_t since_ns = 0;      // before the start event: the earliest the kernel could run
  std::int64_t queue_end_ns = 0;  // when the work queued before it should end (DeviceActivity)
  std::int64_t recorded_ns = 0;
  std::uint64_t context_epoch = 0;  // ContextEpoch() when recorded
  bool settle = false;
  int device = 0;
  std::uint32_t percent = 100;
  std::int64_t charged_ns = 0;  // over `launches` launches of `key`
  std::int64_t launches = 0;
};

thread_local PendingSample t_pending;
thread_local unsigned t_launches = 0;

// While another thread captures a graph in the global mode, event queries from this thread would
// invalidate that capture; in the relaxed mode they are allowed. Restores the caller's mode.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() {
    static auto* exchange = reinterpret_cast<CUresult (*)(int*)>(
        RealLibcudaSymbol("cuThreadExchangeStreamCaptureMode"));
    exchange_ = exchange;
    if (exchange_ != nullptr && exchange_(&mode_) != CUDA_SUCCESS) exchange_ = nullptr;
  }
  ~RelaxedCaptureMode() {
    if (exchange_ != nullptr) exchange_(&mode_);
  }
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  CUresult (*exchange_)(int*) = nullptr;
  int mode_ = 2;  // CU_STREAM_CAPTURE_MODE_RELAXED
};

void DropSample() {
  const EventApi& events = Events();
  if (t_pending.start != nullptr) events.destroy(t_pending.start);
  if (t_pending.end != nullptr) events.destroy(t_pending.end);
  t_pending = {};
}

// Reads the pending sample into the cost model if its kernel has finished, polling for at most
// `wait_ns`. Never blocks until the kernel ends: a kernel may wait for something its host thread
// does only after the launch returns (a flag it writes, a peer GPU's launch of the same NCCL
// collective), and blocking the launch would deadlock it.
void FinishSample(HookState& state, std::int64_t wait_ns) {
  const EventApi& events = Events();
  if (t_pending.end == nullptr) return;
  if (ContextEpoch().load() != t_pending.context_epoch) {
    // A context ended since (a reset, a destroy): the events may have gone with it, and must not
    // be touched. Forgotten, not destroyed.
    t_pending = {};
    return;
  }
  RelaxedCaptureMode relaxed;
  const std::int64_t deadline = NowNs() + wait_ns;
  while (events.query(t_pending.end) == cuda::CUDA_ERROR_NOT_READY) {
    if (NowNs() >= deadline) {
      // A kernel that runs this long (a persistent one) is not waited for any more: events
      // recorded around running work may be destroyed, and this thread samples again.
      if (NowNs() - t_pending.recorded_ns > kAbandonSampleNs) DropSample();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  float milliseconds = 0;
  if (events.elapsed(&milliseconds, t_pending.start, t_pending.end) == CUDA_SUCCESS) {
    // Other processes' work on the GPU meanwhile may have stretched the timing. The kernel ran
    // after the work queued before it (which may have stretched too), for what was measured.
    auto measured = static_cast<std::int64_t>(milliseconds * 1e6);
    std::int64_t backlog = std::max<std::int64_t>(t_pending.queue_end_ns - t_pending.since_ns, 0);
    int contenders = state.activity->Contenders(
        t_pending.device, {t_pending.since_ns, t_pending.since_ns + 2 * backlog + measured});
    state.costs.AddSample(t_pending.key, measured, contenders);
    if (t_pending.settle) {
      std::int64_t owed = state.calibration.Scale(
          t_pending.device, state.costs.Estimate(t_pending.key) * t_pending.launches);
      state.usage->TakeLaunchTokens(t_pending.device, owed - t_pending.charged_ns, NowNs(),
                                    t_pending.percent);
      state.calibration.NoteCharged(t_pending.device, owed - t_pending.charged_ns, 0);
    }
  }
  DropSample();
}

// A launch into a stream that is being captured into a graph does not run now (the graph launch
// is charged instead), and event calls would alter the capture.
bool Capturing(CUstream stream, bool per_thread_stream) {
  const EventApi& events = Events();
  auto is_capturing = per_thread_stream ? events.is_capturing_ptsz : events.is_capturing;
  int status = 0;  // CU_STREAM_CAPTURE_STATUS_NONE
  return is_capturing != nullptr && is_capturing(stream, &status) == CUDA_SUCCESS && status != 0;
}

bool RecordEvent(CUevent& event, CUstream stream, bool per_thread_stream) {
  const EventApi& events = Events();
  auto record = per_thread_stream ? events.record_ptsz : events.record;
  return events.create(&event, cuda::CU_EVENT_DEFAULT) == CUDA_SUCCESS &&
         record(event, stream) == CUDA_SUCCESS;
}

// Unthrottled launches are counted per thread and added to the shared file every
// kTallyFlushEvery launches, at least once a second while the thread launches (so that the
// container's share window keeps moving for slow launchers, e.g. one graph per step: readers
// treat a window older than 5 s as idle), and when the thread exits. This spares launch-heavy
// programs three contended atomic adds per launch. Throttled launches are recorded at once.
constexpr std::uint64_t kTallyFlushEvery = 64;
constexpr std::int64_t kTallyFlushAfterNs = 1'000'000'000;

// The coarse clock (a few ms resolution) is cheaper than NowNs() and good enough for a 1 s
// flush interval; it shares CLOCK_MONOTONIC's origin.
std::int64_t CoarseNowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

struct LaunchTally {
  int device = -1;
  int pid = 0;
  std::uint64_t launches = 0;
  std::int64_t busy_ns = 0;
  std::int64_t last_flush_ns = 0;  // coarse clock; 0: never, so the first launch is reported

  void Flush() {
    // A fork child inherits its parent's tally; those launches are the parent's to report.
    if (launches > 0 && pid == static_cast<int>(getpid())) {
      State().usage->RecordLaunches(device, launches, busy_ns, NowNs());
    }
    launches = 0;
    busy_ns = 0;
  }
  // Returns the coarse clock it read.
  std::int64_t Add(int launch_device, std::int64_t cost_ns) {
    if (launch_device != device) Flush();
    if (launches == 0) {
      device = launch_device;
      pid = static_cast<int>(getpid());
    }
    ++launches;
    busy_ns += cost_ns;
    std::int64_t now = CoarseNowNs();
    if (launches >= kTallyFlushEvery || now - last_flush_ns >= kTallyFlushAfterNs) {
      Flush();
      last_flush_ns = now;
    }
    return now;
  }
  ~LaunchTally() { Flush(); }
};

thread_local LaunchTally t_tally;

// Costs are learned per kernel and launch shape: one CUfunction launched over grids of several
// sizes (a GEMM for several matrix sizes, an element-wise kernel over several tensor sizes) costs
// as much as its grid, and a minimum over all its shapes would under-charge the large ones.
const void* ShapeKey(const void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                     unsigned by, unsigned bz) {
  std::uint64_t blocks = std::uint64_t{gx} * gy * gz, threads = std::uint64_t{bx} * by * bz;
  std::uint64_t shape = (blocks * 0x9E3779B97F4A7C15ULL) ^ (threads * 0xC2B2AE3D27D4EB4FULL);
  std::uintptr_t key = reinterpret_cast<std::uintptr_t>(function) ^ (shape << 4);
  return reinterpret_cast<const void*>(key != 0 ? key : 16);  // 0 marks a free cost slot
}

// The same for cuLaunchKernelEx, whose shape is in its launch configuration.
const void* ShapeKey(const void* function, const CUlaunchConfig* config) {
  if (config == nullptr) return function;
  return ShapeKey(function, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                  config->blockDimY, config->blockDimZ);
}

// Once a window, a throttled process sets how busy the driver saw the GPU against the work of
// all hooked processes on it, and scales its charges (see ShareCalibration).
void Calibrate(HookState& state, int device, std::int64_t now_ns) {
  if (!state.config.calibrate_shares) return;
  bool started = false;
  if (!state.calibration.WindowDue(device, now_ns, &started)) {
    if (started) {  // the first window counts the work from its start on
      state.activity->WorkSince(device, now_ns);
      state.calibration.Reopen(device);
    }
    return;
  }
  bool asking = false;
  std::optional<double> busy = state.device_busy.Latest(device, GpuUuidOfSlot(device), &asking);
  if (asking) {  // another thread is asking NVML: this window stays open for a later launch
    state.calibration.Reopen(device);
    return;
  }
  now_ns = NowNs();  // the driver's answer may have taken a while; other threads went on charging
  std::optional<std::int64_t> work = state.activity->WorkSince(device, now_ns);
  std::int64_t backlog = std::max<std::int64_t>(state.activity->QueueEnd(device) - now_ns, 0);
  double before = state.calibration.Factor(device);
  double factor = state.calibration.Observe(device, now_ns, busy, work, backlog);
  if (state.config.debug && busy && work) {
    char line[200];
    std::snprintf(line, sizeof(line),
                  "share calibration: device %d: NVML saw the GPU busy %.1f%%, the launches of "
                  "all hooked processes on it came to %.1f ms: charges x%.3f (was x%.3f)",
                  device, *busy * 100, static_cast<double>(*work) / 1e6, factor, before);
    HookLog(line);
  }
}

void SleepFor(std::int64_t wait_ns) {
  if (wait_ns > 0)
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(wait_ns, kMaxWaitNs)));
}

// Runs `launch` under the device's share. `key` identifies the kernel or graph for cost estimates.
template <typename Launch>
CUresult Throttled(const void* key, CUstream stream, bool per_thread_stream, Launch&& launch) {
  HookState& state = State();
  int device = CurrentDevice();
  std::uint32_t percent = state.config.Enforces() ? state.usage->CoresPercent(device) : 100;
  bool throttle = percent < 100;
  unsigned launch_number = ++t_launches;
  // A first-launch sample still waiting to be settled is checked on every launch.
  bool poll = t_pending.end != nullptr && (t_pending.settle || launch_number % kPollEvery == 0);
  // A throttled kernel without an estimate is timed at once (waiting briefly for it), so a burst
  // of its launches is not all charged the default cost. Unthrottled, a new kernel is timed
  // without waiting where neighbours read this process's queued work from the activity board.
  bool sampled = false;
  std::int64_t cost = state.costs.Estimate(key, &sampled);
  bool unknown = !sampled && (throttle || state.activity->Posts(device));
  bool first_of_kernel = throttle && unknown;
  bool sample = Events().usable() && t_pending.end == nullptr &&
                (unknown ||
                 launch_number % (throttle ? kSampleEveryThrottled : kSampleEveryUnthrottled) == 0);
  // Only launches that may wait or add events pay for the capture check.
  if ((throttle || sample || poll) && Capturing(stream, per_thread_stream)) return launch();
  if (poll) {
    FinishSample(state, 0);
    cost = state.costs.Estimate(key);
  }

  // What a throttled launch is charged: its estimated cost, as calibrated to the driver's figures.
  std::int64_t charge = throttle ? state.calibration.Scale(device, cost) : cost;
  std::int64_t waited = 0;
  const std::int64_t taken = charge;  // from the bucket now (a settlement takes the rest)
  if (throttle) {
    waited = state.usage->TakeLaunchTokens(device, charge, NowNs(), percent);
    SleepFor(waited);
  }
  if (t_pending.settle && t_pending.key == key) {  // its timing is still awaited: a guess too
    t_pending.charged_ns += charge;
    ++t_pending.launches;
  }
  if (sample) {
    t_pending.context_epoch = ContextEpoch().load();  // before its events exist
    t_pending.device = device;
    t_pending.since_ns = NowNs();
    t_pending.queue_end_ns = state.activity->QueueEnd(device);
  }
  if (sample && !RecordEvent(t_pending.start, stream, per_thread_stream)) {
    DropSample();
    sample = false;
  }
  CUresult result = launch();
  if (sample &&
      (result != CUDA_SUCCESS || !RecordEvent(t_pending.end, stream, per_thread_stream))) {
    DropSample();
  } else if (sample) {
    t_pending.key = key;
    t_pending.recorded_ns = NowNs();
    if (first_of_kernel) {
      t_pending.settle = true;
      t_pending.percent = percent;
      t_pending.charged_ns = charge;
      t_pending.launches = 1;
      FinishSample(state, kFirstSampleWaitNs);  // settles the difference if the kernel ended
      if (t_pending.end == nullptr) {
        cost = state.costs.Estimate(key);
        charge = state.calibration.Scale(device, cost);
      }
    }
  }
  if (result != CUDA_SUCCESS) return result;
  if (throttle) {
    std::int64_t now = NowNs();
    state.usage->RecordLaunches(device, 1, charge, now);
    state.activity->NoteLaunch(device, cost, now);  // GPU time, not what the share is charged
    state.calibration.NoteCharged(device, taken, std::min(waited, kMaxWaitNs));
    Calibrate(state, device, now);
  } else {
    std::int64_t coarse_now = t_tally.Add(device, cost);
    state.activity->NoteLaunch(device, cost, coarse_now);
  }
  return result;
}

}  // namespace
}  // namespace flexai::isolation

using flexai::isolation::HookId;
using flexai::isolation::Real;
using flexai::isolation::ShapeKey;
using flexai::isolation::Throttled;

extern "C" {

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, CUstream stream, void** params,
                        void** extra) {
  auto* real = Real<decltype(cuLaunchKernel)>(HookId::kLaunchKernel);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(ShapeKey(f, gx, gy, gz, bx, by, bz), stream, false,
                   [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra); });
}

CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                             unsigned by, unsigned bz, unsigned shared, CUstream stream,
                             void** params, void** extra) {
  auto* real = Real<decltype(cuLaunchKernel_ptsz)>(HookId::kLaunchKernel_ptsz);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(ShapeKey(f, gx, gy, gz, bx, by, bz), stream, true,
                   [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra); });
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  auto* real = Real<decltype(cuLaunchKernelEx)>(HookId::kLaunchKernelEx);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUstream stream = config == nullptr ? nullptr : config->hStream;
  return Throttled(ShapeKey(f, config), stream, false,
                   [&] { return real(config, f, params, extra); });
}

CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                               void** extra) {
  auto* real = Real<decltype(cuLaunchKernelEx_ptsz)>(HookId::kLaunchKernelEx_ptsz);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  CUstream stream = config == nullptr ? nullptr : config->hStream;
  return Throttled(ShapeKey(f, config), stream, true,
                   [&] { return real(config, f, params, extra); });
}

CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                   unsigned by, unsigned bz, unsigned shared, CUstream stream,
                                   void** params) {
  auto* real = Real<decltype(cuLaunchCooperativeKernel)>(HookId::kLaunchCooperativeKernel);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(ShapeKey(f, gx, gy, gz, bx, by, bz), stream, false,
                   [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, params); });
}

CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                        CUstream stream, void** params) {
  auto* real =
      Real<decltype(cuLaunchCooperativeKernel_ptsz)>(HookId::kLaunchCooperativeKernel_ptsz);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(ShapeKey(f, gx, gy, gz, bx, by, bz), stream, true,
                   [&] { return real(f, gx, gy, gz, bx, by, bz, shared, stream, params); });
}

// The pre-4.0 launch API (parameters set beforehand with cuParamSet*): cuLaunch and cuLaunchGrid
// run on the null stream.
CUresult cuLaunch(CUfunction f) {
  auto* real = Real<decltype(cuLaunch)>(HookId::kLaunch);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(f, nullptr, false, [&] { return real(f); });
}

CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height) {
  auto* real = Real<decltype(cuLaunchGrid)>(HookId::kLaunchGrid);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  // Block dimensions were set beforehand (cuFuncSetBlockShape): the grid alone tells shapes apart.
  return Throttled(ShapeKey(f, static_cast<unsigned>(grid_width),
                            static_cast<unsigned>(grid_height), 1, 1, 1, 1),
                   nullptr, false, [&] { return real(f, grid_width, grid_height); });
}

CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height, CUstream stream) {
  auto* real = Real<decltype(cuLaunchGridAsync)>(HookId::kLaunchGridAsync);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(ShapeKey(f, static_cast<unsigned>(grid_width),
                            static_cast<unsigned>(grid_height), 1, 1, 1, 1),
                   stream, false, [&] { return real(f, grid_width, grid_height, stream); });
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  auto* real = Real<decltype(cuGraphLaunch)>(HookId::kGraphLaunch);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(exec, stream, false, [&] { return real(exec, stream); });
}

CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  auto* real = Real<decltype(cuGraphLaunch_ptsz)>(HookId::kGraphLaunch_ptsz);
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return Throttled(exec, stream, true, [&] { return real(exec, stream); });
}

}  // extern "C"
