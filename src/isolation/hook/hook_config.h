// What a container's environment asks of the hook: the isolation mode, per-device memory quotas
// and compute shares, and where the shared accounting file lives. Parsing never fails: malformed
// values produce a warning and fail closed (see docs/isolation.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flexai::isolation {

enum class IsolationMode : std::uint32_t { kNone = 0, kHook = 1, kMps = 2 };

struct HookConfig {
  IsolationMode mode = IsolationMode::kHook;
  bool memory_limited = false;               // FLEXAI_MEMORY_LIMIT_MIB was set
  std::vector<std::uint64_t> memory_bytes;   // per visible device; kUnlimitedBytes = no quota
  bool cores_limited = false;                // FLEXAI_CORES_LIMIT was set
  std::vector<std::uint32_t> cores_percent;  // per visible device, 1..100 (0 given = 100)
  std::string shared_dir;                    // empty: accounting private to this process tree
  std::string activity_dir;  // read-only folders of all containers' boards per GPU (DeviceActivity)
  std::vector<std::string> visible_uuids;  // FLEXAI_VISIBLE_DEVICES, in device order
  bool debug = false;
  // FLEXAI_SHARE_CALIBRATION: scale throttled charges by how busy NVML saw the GPU over all
  // processes' posted work (on unless "0"; see ShareCalibration).
  bool calibrate_shares = true;
  std::vector<std::string> warnings;  // one line per malformed value, for stderr

  // Quota of a visible device ordinal. Devices past the end of a given list get 0 (fail closed).
  std::uint64_t MemoryLimitBytes(int device) const;
  // Share of a visible device ordinal; 100 when no list is given, 1 past its end (fail closed).
  std::uint32_t CoresPercent(int device) const;
  // Position of a chip UUID in FLEXAI_VISIBLE_DEVICES (= its visible device ordinal), or -1.
  int VisibleDeviceOfUuid(std::string_view uuid) const;
  // Whether allocations past the quota are refused and launches throttled (hook mode only).
  bool Enforces() const { return mode == IsolationMode::kHook; }
  // Whether memory quotas are enforced (and reported by cuMemGetInfo/NVML): in hook mode, and in
  // MPS mode too, where MPS's own limit is a backstop with headroom for the client's context.
  bool EnforcesMemory() const {
    return mode == IsolationMode::kHook || mode == IsolationMode::kMps;
  }
};

// Reads FLEXAI_ISOLATION, FLEXAI_MEMORY_LIMIT_MIB, FLEXAI_CORES_LIMIT, FLEXAI_SHARED_DIR,
// FLEXAI_ACTIVITY_DIR, FLEXAI_VISIBLE_DEVICES and FLEXAI_HOOK_DEBUG through `getenv` (injectable
// for tests).
HookConfig ParseHookConfig(const std::function<const char*(const char*)>& getenv);

}  // namespace flexai::isolation
