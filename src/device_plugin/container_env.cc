#include "device_plugin/container_env.h"

#include <algorithm>
#include <cassert>

#include <spdlog/spdlog.h>

#include "isolation/mps_client_env.h"
#include "kube/protocol.h"

namespace flexai::device_plugin {
namespace {

template <typename T, typename F>
std::string JoinComma(const std::vector<T>& items, F&& to_text) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + to_text(item);
  return out;
}

// An Ascend slice of one chip becomes a vNPU: the smallest template of the chip's model that
// holds the grant. Ascend's container runtime creates it from ASCEND_VNPU_SPECS.
void AddVnpuSetup(const PluginSettings& settings, const partition::Chip& chip,
                  const partition::ChipGrant& grant, ContainerSetup& setup) {
  auto model = settings.policy.ascend.models.find(chip.model);
  if (model == settings.policy.ascend.models.end()) {
    spdlog::warn("no vNPU templates for Ascend model {} in the policy; {} gets the whole chip",
                 chip.model, chip.uuid);
    return;
  }
  // Cores are a percentage of the chip; templates count AI cores. The chip's own count (from
  // DCMI) wins over the policy's for its model: a variant with fewer cores would otherwise get
  // vNPUs sized for cores it does not have.
  int chip_ai_cores = model->second.ai_cores;
  if (chip.compute_units > 0 && chip.compute_units != chip_ai_cores) {
    spdlog::warn(
        "{} ({}) has {} AI cores, the policy says {} for its model; sizing its vNPU by "
        "the chip's",
        chip.uuid, chip.model, chip.compute_units, chip_ai_cores);
    chip_ai_cores = chip.compute_units;
  }
  int ai_cores =
      (grant.cores * chip_ai_cores + partition::kCoresPerChip - 1) / partition::kCoresPerChip;
  auto found =
      partition::SmallestVnpuTemplate(settings.policy, chip.model, grant.memory_mib, ai_cores);
  if (!found) {
    spdlog::warn("no vNPU template of {} holds {} MiB and {} AI cores; {} gets the whole chip",
                 chip.model, grant.memory_mib, ai_cores, chip.uuid);
    return;
  }
  setup.env["ASCEND_VNPU_SPECS"] = found->name;
  setup.env["FLEXAI_VNPU_TEMPLATE"] = found->name;
}

void AddHookSetup(const PluginSettings& settings, const std::vector<partition::Chip>& chips,
                  const ContainerHostPaths& paths, ContainerSetup& setup) {
  setup.env["LD_PRELOAD"] = std::string(kHookLibraryPath);
  setup.env["FLEXAI_SHARED_DIR"] = std::string(kSharedDirInContainer);
  setup.mounts.push_back(
      {std::string(kHookLibraryDir), settings.hook_library_host_dir, /*read_only=*/true});
  setup.mounts.push_back(
      {std::string(kSharedDirInContainer), paths.shared_dir, /*read_only=*/false});
  // The launch throttle tells timings stretched by other containers' work on the same GPU from
  // clean ones by the GPU's activity board; MPS partitions the GPU instead and throttles nothing.
  if (settings.isolation != IsolationMode::kHook || paths.activity_boards.size() != chips.size())
    return;
  setup.env["FLEXAI_ACTIVITY_DIR"] = std::string(kActivityDirInContainer);
  for (size_t i = 0; i < chips.size(); ++i) {
    // Read-only: a container writes only its own boards (in its accounting directory).
    setup.mounts.push_back({std::string(kActivityDirInContainer) + "/" + chips[i].uuid,
                            paths.activity_boards[i], /*read_only=*/true});
  }
}

void AddMpsSetup(const std::vector<partition::Chip>& chips,
                 const std::vector<partition::ChipGrant>& grants, const ContainerHostPaths& paths,
                 ContainerSetup& setup) {
  // MPS takes one thread percentage per client: the smallest grant bounds every chip (0, a
  // memory-only slice, reserves none and leaves the variable out).
  int cores = partition::kCoresPerChip;
  for (const auto& grant : grants) cores = std::min(cores, grant.cores);
  isolation::MpsClientSlice slice{std::string(kMpsPipeDirInContainer),
                                  static_cast<uint64_t>(grants.front().memory_mib),
                                  static_cast<uint32_t>(std::max(cores, 0))};
  for (auto& [key, value] : isolation::MpsClientEnvironment(slice)) setup.env[key] = value;
  if (grants.size() > 1) {
    // Device numbers are the container's own (0..n-1, in visible-device order).
    std::string memory;
    for (size_t i = 0; i < grants.size(); ++i) {
      memory +=
          (i ? "," : "") + isolation::MpsMemoryLimit(static_cast<int>(i),
                                                     static_cast<uint64_t>(grants[i].memory_mib));
    }
    setup.env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = memory;
    // The node-wide daemon serves every GPU of the node: the client names its own, in the order
    // of the limits above (a client sees the server's devices otherwise).
    setup.env["CUDA_VISIBLE_DEVICES"] =
        JoinComma(chips, [](const partition::Chip& c) { return c.uuid; });
  }
  setup.mounts.push_back(
      {std::string(kMpsPipeDirInContainer), paths.mps_pipe_dir, /*read_only=*/false});
  setup.mounts.push_back(
      {std::string(kMpsShmDirInContainer), paths.mps_shm_dir, /*read_only=*/false});
}

}  // namespace

ContainerSetup BuildContainerSetup(const Backend& backend, const PluginSettings& settings,
                                   const std::vector<partition::Chip>& chips,
                                   const std::vector<partition::ChipGrant>& grants,
                                   const ContainerHostPaths& paths) {
  assert(chips.size() == grants.size() && !grants.empty());
  ContainerSetup setup;
  setup.env = backend.VisibleDevicesEnv(chips);
  if (settings.device_list_as_volume_mounts && backend.vendor() == partition::Vendor::kNvidia) {
    // The toolkit reads the GPUs from the mount points' names; the variable names the folder.
    setup.env["NVIDIA_VISIBLE_DEVICES"] = std::string(kNvidiaDeviceListDir);
    for (const auto& chip : chips) {
      setup.mounts.push_back(
          {std::string(kNvidiaDeviceListDir) + "/" + chip.uuid, "/dev/null", /*read_only=*/true});
    }
  }
  setup.env["FLEXAI_VISIBLE_DEVICES"] =
      JoinComma(chips, [](const partition::Chip& c) { return c.uuid; });
  setup.env["FLEXAI_MEMORY_LIMIT_MIB"] =
      JoinComma(grants, [](const partition::ChipGrant& g) { return std::to_string(g.memory_mib); });
  setup.env["FLEXAI_CORES_LIMIT"] =
      JoinComma(grants, [](const partition::ChipGrant& g) { return std::to_string(g.cores); });
  bool all_exclusive = std::all_of(grants.begin(), grants.end(),
                                   [](const partition::ChipGrant& g) { return g.exclusive; });
  // Whole chips need no enforcement; slices get the policy's isolation mode.
  IsolationMode mode = all_exclusive ? IsolationMode::kNone : settings.isolation;
  setup.env["FLEXAI_ISOLATION"] = std::string(IsolationModeName(mode));
  if (backend.vendor() == partition::Vendor::kAscend && !all_exclusive) {
    if (grants.size() == 1) {
      AddVnpuSetup(settings, chips.front(), grants.front(), setup);
    } else {
      spdlog::warn("a multi-chip Ascend slice cannot be a vNPU; its chips are shared unenforced");
    }
  }
  // In MPS mode the library is preloaded too, for accounting only (FLEXAI_ISOLATION=mps: it counts
  // and never refuses or throttles), so MPS slices show their live usage like hook slices.
  if (mode == IsolationMode::kHook || mode == IsolationMode::kMps) {
    AddHookSetup(settings, chips, paths, setup);
  }
  if (mode == IsolationMode::kMps) AddMpsSetup(chips, grants, paths, setup);
  return setup;
}

std::string IsolationConflict(const std::map<std::string, std::string>& pod_annotations,
                              const std::vector<partition::ChipGrant>& grants,
                              const PluginSettings& settings, partition::Vendor vendor) {
  auto it = pod_annotations.find(std::string(kube::kIsolationAnnotation));
  if (it == pod_annotations.end() || it->second.empty()) return "";
  const std::string asked = std::string(kube::kIsolationAnnotation) + "=" + it->second;
  auto mode = partition::ParseIsolationMode(it->second);
  if (!mode || *mode == IsolationMode::kNone) return asked + " is not hook or mps";
  bool whole_chips = std::all_of(grants.begin(), grants.end(),
                                 [](const partition::ChipGrant& g) { return g.exclusive; });
  if (whole_chips) return "";  // whole chips are not enforced in any mode
  if (vendor == partition::Vendor::kAscend)
    return asked + ": NPU slices are vNPUs, not " + it->second;
  if (*mode != settings.isolation) {
    return "the pod asks " + asked + ", this node's slice policy runs isolation " +
           std::string(IsolationModeName(settings.isolation));
  }
  return "";
}

}  // namespace flexai::device_plugin
