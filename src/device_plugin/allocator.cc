#include "device_plugin/allocator.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "device_plugin/activity_folders.h"
#include "device_plugin/device_id.h"
#include "partition/assignment_codec.h"

namespace flexai::device_plugin {
namespace {

AllocateOutcome Failed(AllocateFailure failure, std::string message) {
  AllocateOutcome outcome;
  outcome.failure = failure;
  outcome.message = std::move(message);
  return outcome;
}

// A repeat of an answer whose request has not finished: answering it now could hand out a
// container that the request's failing `success` patch then takes back.
AllocateOutcome StillBeingRecorded(const MatchedContainer& repeat) {
  return Failed(AllocateFailure::kClusterUnavailable,
                repeat.pod.namespace_name + "/" + repeat.pod.name + " container " +
                    repeat.container().container +
                    ": the first answer for these device IDs is still being recorded; retry");
}

// The annotation is only as trustworthy as whoever wrote it (users can write pod annotations
// too): a grant must fit the chip it names, and a container gets each chip once. "" when fine.
// The most memory the policy ever lets a chip's slices add up to, whatever node override applies:
// the node's last line against an over-committing placement, so it never refuses what the Hi
// Scheduler may legitimately admit (reserved memory is not subtracted either).
int64_t MostMemoryAdmitted(const partition::SlicePolicy& policy, const partition::Chip& chip) {
  double ratio = policy.sharing.memory_oversubscription;
  for (const auto& override : policy.node_overrides) {
    ratio = std::max(ratio, override.sharing.memory_oversubscription.value_or(ratio));
  }
  return static_cast<int64_t>(static_cast<double>(chip.memory_mib) * std::max(1.0, ratio));
}

std::string GrantsMisfit(const std::vector<partition::Chip>& chips,
                         const std::vector<partition::ChipGrant>& grants) {
  for (size_t i = 0; i < chips.size(); ++i) {
    if (i > 0 && chips[i].uuid == chips[i - 1].uuid) {  // sorted by chip index
      return "the assignment names chip " + chips[i].uuid + " twice";
    }
    // The scheduler gives a cores-only request its share of memory: 0 MiB would mean "no limit"
    // to MPS and "nothing" to the hook.
    if (!grants[i].exclusive && grants[i].memory_mib == 0) {
      return "the assignment gives 0 MiB of chip " + chips[i].uuid + " (a slice needs memory)";
    }
    if (grants[i].memory_mib > chips[i].memory_mib) {
      return "the assignment gives " + std::to_string(grants[i].memory_mib) + " MiB of chip " +
             chips[i].uuid + ", which has " + std::to_string(chips[i].memory_mib) + " MiB";
    }
  }
  return "";
}

}  // namespace

Allocator::Allocator(std::string node_name, const ChipInventory& inventory, const Backend& backend,
                     std::shared_ptr<const SettingsStore> settings, ClusterClient* cluster)
    : node_name_(std::move(node_name)),
      inventory_(inventory),
      backend_(backend),
      settings_(std::move(settings)),
      cluster_(cluster) {}

Allocator::Allocator(std::string node_name, const ChipInventory& inventory, const Backend& backend,
                     PluginSettings settings, ClusterClient* cluster)
    : Allocator(std::move(node_name), inventory, backend,
                std::make_shared<const SettingsStore>(std::move(settings)), cluster) {}

std::set<std::string> Allocator::NodeChipUuids() const {
  std::set<std::string> uuids;
  for (const auto& chip : inventory_.chips()) uuids.insert(chip.uuid);
  return uuids;
}

AllocatedContainers Allocator::AllocatedLocked() const {
  AllocatedContainers allocated;
  for (const auto& [uid, record] : pods_) {
    for (const auto& container : record.allocated_containers) allocated.insert({uid, container});
  }
  return allocated;
}

AnsweredDeviceIds Allocator::AnsweredLocked() const {
  AnsweredDeviceIds answered;
  for (const auto& [uid, record] : pods_) {
    for (const auto& [container, ids] : record.device_ids) {
      auto at = record.answered_at.find(container);
      answered[{uid, container}] = {
          ids, at == record.answered_at.end() ? std::chrono::system_clock::now() : at->second};
    }
  }
  return answered;
}

Status Allocator::PlaceChips(const partition::ContainerAssignment& container,
                             std::vector<partition::Chip>& chips,
                             std::vector<partition::ChipGrant>& grants) const {
  std::vector<std::pair<partition::Chip, partition::ChipGrant>> placed;
  for (const auto& grant : container.grants) {
    auto chip = inventory_.FindByUuid(grant.chip_uuid);
    if (!chip) {
      return Error{"container " + container.container + " is assigned chip " + grant.chip_uuid +
                   ", which is not on this node"};
    }
    placed.emplace_back(*chip, grant);
  }
  std::sort(placed.begin(), placed.end(),
            [](const auto& a, const auto& b) { return a.first.index < b.first.index; });
  chips.clear();
  grants.clear();
  for (const auto& [chip, grant] : placed) {
    chips.push_back(chip);
    grants.push_back(grant);
  }
  return Status::Ok();
}

AllocateOutcome Allocator::RepeatLocked(const MatchedContainer& match,
                                        const std::vector<std::string>& sorted_ids,
                                        const PluginSettings& settings) {
  const auto& container = match.container();
  std::vector<partition::Chip> chips;
  std::vector<partition::ChipGrant> grants;
  if (Status placed = PlaceChips(container, chips, grants); !placed) {
    return Failed(AllocateFailure::kNoAssignment, placed.message());
  }
  AllocateOutcome outcome;
  // The first answer again; after a restart, built from the assignment as it was. The chips are
  // the pod's already, so their health is not checked again.
  PodRecord& record = pods_[match.pod.uid];
  const auto given = record.answers.find(container.container);
  const bool from_memory = given != record.answers.end();
  if (from_memory) {
    outcome.setup = given->second;
    // An NPU's logic ID can change when a chip before it on its card vanished: the devices are
    // named as they are now, the rest is the first answer.
    if (backend_.vendor() == partition::Vendor::kAscend) {
      for (auto& [name, value] : backend_.VisibleDevicesEnv(chips)) outcome.setup.env[name] = value;
    }
  } else {
    outcome.setup =
        BuildContainerSetup(backend_, settings, chips, grants,
                            PrepareHostPaths(settings, match.pod.uid, container.container, chips));
    record.answers[container.container] = outcome.setup;
  }
  // After a restart only the annotation knew of it: record the pod as Reconcile would.
  record.assignment = match.assignment;
  SeedFromProgress(record, match.pod, match.assignment);
  if (std::find(record.allocated_containers.begin(), record.allocated_containers.end(),
                container.container) == record.allocated_containers.end()) {
    record.allocated_containers.push_back(container.container);
  }
  record.device_ids[container.container] = sorted_ids;
  // After a restart the first answer's time is unknown: the bind time bounds it (it came later).
  record.answered_at.try_emplace(container.container,
                                 ParseRfc3339(match.pod.annotations.contains(kBindTimeAnnotation)
                                                  ? match.pod.annotations.at(kBindTimeAnnotation)
                                                  : "")
                                     .value_or(std::chrono::system_clock::now()));
  outcome.repeated = true;
  // The first answer's `success` patch was lost (or never sent): send it again with this answer.
  if (match.pod.annotations.contains(kBindPhaseAnnotation) &&
      match.pod.annotations.at(kBindPhaseAnnotation) == kBindPhaseAllocating &&
      record.allocated_containers.size() == match.assignment.containers.size()) {
    outcome.completes_pod = true;
    outcome.device_ids_annotation = EncodeContainerDeviceIds(record.device_ids);
  }
  outcome.pod_namespace = match.pod.namespace_name;
  outcome.pod_name = match.pod.name;
  outcome.pod_uid = match.pod.uid;
  outcome.container = container.container;
  outcome.message = match.pod.namespace_name + "/" + match.pod.name + " container " +
                    container.container + " (repeated Allocate)";
  spdlog::info("Allocate repeated for {}: {}", outcome.message,
               from_memory ? "same answer as before"
                           : "answered again from its assignment (the first answer was given "
                             "before this process started)");
  return outcome;
}

AllocateOutcome Allocator::MatchContainer(const std::vector<std::string>& device_ids,
                                          const PluginSettings& settings) {
  AllocateOutcome outcome;
  std::set<std::string> node_chips = NodeChipUuids();
  if (device_ids.empty()) {
    return Failed(AllocateFailure::kBadDeviceIds, "no device IDs in the request");
  }
  for (const auto& id : device_ids) {
    auto parsed = ParseDeviceId(id);
    if (!parsed || !node_chips.contains(parsed->chip_uuid)) {
      return Failed(AllocateFailure::kBadDeviceIds, "device ID \"" + id + "\" is not served here");
    }
  }
  if (cluster_ == nullptr) {
    return Failed(AllocateFailure::kNoAssignment,
                  "no Kubernetes connection configured: cannot find the pod's assignment for " +
                      std::to_string(device_ids.size()) + " device(s)");
  }
  auto pods = cluster_->ListPodsOnNode(node_name_);
  if (!pods) {
    return Failed(AllocateFailure::kClusterUnavailable,
                  "listing pods on node " + node_name_ + ": " + pods.error().message);
  }

  std::vector<std::string> sorted_ids = device_ids;
  std::sort(sorted_ids.begin(), sorted_ids.end());
  const auto now = std::chrono::system_clock::now();
  auto list_failed = [&](const Error& error) {
    return Failed(AllocateFailure::kClusterUnavailable,
                  "listing pods on node " + node_name_ + ": " + error.message);
  };
  // mu_ is never held over a call to the API server (it would stall GetPreferredAllocation,
  // heartbeats and metrics for the client's timeouts): it is released around each fresh list,
  // and whatever was decided before is decided again on the state found after.
  std::unique_lock lock(mu_);
  // A repeat first: its IDs may be from before a policy reload lowered max slices.
  if (auto repeat =
          FindAnsweredContainer(*pods, node_name_, sorted_ids, node_chips, AnsweredLocked(), now)) {
    if (UnconfirmedLocked(repeat->pod.uid, repeat->container().container)) {
      return StillBeingRecorded(*repeat);
    }
    // The watch cache may not show yet that the pod started (its IDs may then be reused): the
    // API server must confirm the pod is still in admission.
    lock.unlock();
    auto fresh = cluster_->ListPodsOnNodeFresh(node_name_);
    if (!fresh) return list_failed(fresh.error());
    lock.lock();
    auto confirmed =
        FindAnsweredContainer(*fresh, node_name_, sorted_ids, node_chips, AnsweredLocked(), now);
    if (confirmed && confirmed->pod.uid == repeat->pod.uid &&
        confirmed->container_index == repeat->container_index) {
      if (UnconfirmedLocked(confirmed->pod.uid, confirmed->container().container)) {
        return StillBeingRecorded(*confirmed);
      }
      return RepeatLocked(*confirmed, sorted_ids, settings);
    }
    pods = std::move(fresh);  // not a repeat after all: match against the fresher list
  }
  for (const auto& id : device_ids) {
    if (ParseDeviceId(id)->slot >= settings.max_slices_per_chip) {
      return Failed(AllocateFailure::kBadDeviceIds, "device ID \"" + id + "\" is not served here");
    }
  }
  auto match = MatchAssignment(*pods, node_name_, device_ids.size(), node_chips, AllocatedLocked());
  // The watch cache may lag the API server: by the scheduler's patch (no match yet), or, for a
  // pod with several containers this process answered none of, by the containers answered before
  // a restart (or by another instance), named on the pod. Ask the API server itself then, before
  // handing out a pod's first container again.
  const bool unknown_with_containers =
      match && match->assignment.containers.size() > 1 && !pods_.contains(match->pod.uid);
  if (!match || unknown_with_containers) {
    lock.unlock();
    auto fresh = cluster_->ListPodsOnNodeFresh(node_name_);
    if (!fresh) return list_failed(fresh.error());
    lock.lock();
    // Answered meanwhile by another request, or before a restart: this is its repeat then.
    if (auto repeat = FindAnsweredContainer(*fresh, node_name_, sorted_ids, node_chips,
                                            AnsweredLocked(), now)) {
      if (UnconfirmedLocked(repeat->pod.uid, repeat->container().container)) {
        return StillBeingRecorded(*repeat);
      }
      return RepeatLocked(*repeat, sorted_ids, settings);
    }
    match = MatchAssignment(*fresh, node_name_, device_ids.size(), node_chips, AllocatedLocked());
  }
  if (!match) return Failed(AllocateFailure::kNoAssignment, match.error().message);

  const auto& container = match->container();
  const std::string pod_ref = match->pod.namespace_name + "/" + match->pod.name;
  std::vector<partition::Chip> chips;
  std::vector<partition::ChipGrant> grants;
  if (Status placed = PlaceChips(container, chips, grants); !placed) {
    return Failed(AllocateFailure::kNoAssignment, pod_ref + ": " + placed.message());
  }
  // The assignment cannot be honoured: say so on the pod (for the scheduler) and to kubelet.
  auto refuse_pod = [&](const std::string& why) {
    lock.unlock();  // nothing is recorded
    Status marked = cluster_->PatchPodAnnotations(
        match->pod.namespace_name, match->pod.name, match->pod.uid,
        {{kBindPhaseAnnotation, kBindPhaseFailed}, {kBindErrorAnnotation, why}});
    if (!marked) spdlog::warn("marking {} failed: {}", pod_ref, marked.message());
    return Failed(AllocateFailure::kNoAssignment, why);
  };
  if (std::string misfit = GrantsMisfit(chips, grants); !misfit.empty()) {
    return refuse_pod(pod_ref + " container " + container.container + ": " + misfit);
  }
  if (!OverCommitLocked(chips, grants, settings).empty()) {
    // Perhaps slices of pods that ended moments ago, which the last reconcile still holds: ask
    // the API server which pods are on the node before refusing.
    lock.unlock();
    auto fresh = cluster_->ListPodsOnNodeFresh(node_name_);
    if (!fresh) return list_failed(fresh.error());
    Reconcile(*fresh);
    lock.lock();
    if (std::string over = OverCommitLocked(chips, grants, settings); !over.empty()) {
      return refuse_pod(pod_ref + " container " + container.container + ": " + over);
    }
  }
  for (const auto& chip : chips) {
    if (!chip.healthy()) {
      return refuse_pod("chip " + chip.uuid + " assigned to " + pod_ref + " container " +
                        container.container + " is Unhealthy");
    }
  }
  if (std::string conflict =
          IsolationConflict(match->pod.annotations, grants, settings, backend_.vendor());
      !conflict.empty()) {
    return refuse_pod(pod_ref + ": " + conflict);
  }
  outcome.setup =
      BuildContainerSetup(backend_, settings, chips, grants,
                          PrepareHostPaths(settings, match->pod.uid, container.container, chips));
  if (outcome.setup.env["FLEXAI_ISOLATION"] == "mps" && mps_ready_) {
    const std::string daemon = chips.size() == 1 ? chips.front().uuid : std::string("all");
    if (!mps_ready_(daemon)) {
      // A client that finds no control daemon runs without MPS: no limit at all.
      return refuse_pod(pod_ref + ": the MPS control daemon for " + daemon +
                        " is not running on this node (flexai_mps_daemon_up), so its MPS limits "
                        "would not hold");
    }
  }

  PodRecord& record = pods_[match->pod.uid];
  record.assignment = match->assignment;
  SeedFromProgress(record, match->pod, match->assignment);
  record.allocated_containers.push_back(container.container);
  record.device_ids[container.container] = sorted_ids;
  record.unconfirmed.insert(container.container);
  record.answered_at[container.container] = now;
  record.answers[container.container] = outcome.setup;
  outcome.pod_namespace = match->pod.namespace_name;
  outcome.pod_name = match->pod.name;
  outcome.completes_pod = record.allocated_containers.size() == match->assignment.containers.size();
  if (outcome.completes_pod) {
    outcome.device_ids_annotation = EncodeContainerDeviceIds(record.device_ids);
  } else {
    outcome.progress_annotation = EncodeProgress(match->pod, record.device_ids);
  }
  outcome.message = pod_ref + " container " + container.container;
  outcome.pod_uid = match->pod.uid;
  outcome.container = container.container;
  spdlog::info("allocated {} device(s) to {}: {}", device_ids.size(), outcome.message,
               partition::EncodeAssignment(match->assignment));
  return outcome;
}

AllocateOutcome Allocator::AllocateContainer(const std::vector<std::string>& device_ids) {
  std::vector<AllocateOutcome> outcomes;
  Status done = AllocateRequest({device_ids}, outcomes);
  if (!done)
    return outcomes.empty() ? Failed(AllocateFailure::kNoAssignment, done.message())
                            : outcomes.back();
  return outcomes.front();
}

Status Allocator::AllocateRequest(const std::vector<std::vector<std::string>>& containers,
                                  std::vector<AllocateOutcome>& outcomes) {
  outcomes.clear();
  std::vector<AllocateOutcome> progress_written;  // progress patches this request made
  auto take_back = [&] {
    for (const auto& o : outcomes) {
      if (o.ok() && !o.repeated) Forget(o.pod_uid, o.container);
    }
    // What those patches named was just taken back: the pods say again what remains (best
    // effort; a failed Allocate fails the pod's admission anyway).
    for (const auto& o : progress_written) {
      const std::string key = o.progress_annotation.substr(0, o.progress_annotation.find('/') + 1);
      Status patched =
          cluster_->PatchPodAnnotations(o.pod_namespace, o.pod_name, o.pod_uid,
                                        {{kAllocatedContainersAnnotation,
                                          key + EncodeContainerDeviceIds(AnsweredIds(o.pod_uid))}});
      if (!patched) {
        spdlog::warn("{}/{}: cannot take back {}: {}", o.pod_namespace, o.pod_name,
                     kAllocatedContainersAnnotation, patched.message());
      }
    }
  };
  // One snapshot for the whole request: a policy reload never splits its containers' modes.
  const std::shared_ptr<const PluginSettings> settings = settings_->Current();
  for (const auto& ids : containers) {
    outcomes.push_back(MatchContainer(ids, *settings));
    if (!outcomes.back().ok()) {
      take_back();
      return Error{outcomes.back().message};
    }
  }
  // A pod answered in part: which containers, on the pod, before kubelet has the answer (a
  // restart would otherwise hand the next Allocate the pod's first container again). The last
  // outcome of a pod holds all its containers so far; a pod this request completes needs none.
  std::map<std::string, const AllocateOutcome*> in_progress;
  for (const auto& outcome : outcomes) {
    if (outcome.repeated) continue;
    if (outcome.completes_pod) {
      in_progress[outcome.pod_uid] = nullptr;
    } else if (!in_progress.contains(outcome.pod_uid) || in_progress[outcome.pod_uid]) {
      in_progress[outcome.pod_uid] = &outcome;
    }
  }
  for (const auto& [uid, outcome] : in_progress) {
    if (outcome == nullptr) continue;
    Status patched = cluster_->PatchPodAnnotations(
        outcome->pod_namespace, outcome->pod_name, uid,
        {{kAllocatedContainersAnnotation, outcome->progress_annotation}});
    if (!patched) {
      const std::string pod_ref = outcome->pod_namespace + "/" + outcome->pod_name;
      take_back();
      outcomes.push_back(Failed(
          AllocateFailure::kClusterUnavailable,
          "recording on " + pod_ref + " which containers are allocated: " + patched.message()));
      return Error{outcomes.back().message};
    }
    progress_written.push_back(*outcome);
  }
  // Only now, with every container of the request placed, are finished pods marked.
  for (auto& outcome : outcomes) {
    if (!outcome.completes_pod) continue;
    Status patched =
        cluster_->PatchPodAnnotations(outcome.pod_namespace, outcome.pod_name, outcome.pod_uid,
                                      {{kBindPhaseAnnotation, kBindPhaseSuccess},
                                       {kDeviceIdsAnnotation, outcome.device_ids_annotation}});
    if (!patched) {
      take_back();  // a later request must find the same containers again
      outcomes.push_back(Failed(AllocateFailure::kClusterUnavailable,
                                "marking " + outcome.pod_namespace + "/" + outcome.pod_name + " " +
                                    kBindPhaseAnnotation + "=success: " + patched.message()));
      return Error{outcomes.back().message};
    }
  }
  Confirm(outcomes);
  return Status::Ok();
}

ContainerDeviceIds Allocator::AnsweredIds(const std::string& pod_uid) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod_uid);
  return it == pods_.end() ? ContainerDeviceIds{} : it->second.device_ids;
}

void Allocator::Confirm(const std::vector<AllocateOutcome>& outcomes) {
  std::lock_guard lock(mu_);
  for (const auto& o : outcomes) {
    if (auto it = pods_.find(o.pod_uid); it != pods_.end())
      it->second.unconfirmed.erase(o.container);
  }
}

bool Allocator::UnconfirmedLocked(const std::string& pod_uid, const std::string& container) const {
  auto it = pods_.find(pod_uid);
  return it != pods_.end() && it->second.unconfirmed.contains(container);
}

// The activity boards of a container (see src/isolation/hook/device_activity.h): its own file
// per chip in its accounting directory, which its processes write, hard-linked into the chip's
// folder <shared_host_dir>/activity-<uuid>, which every hook container on the chip reads
// (mounted read-only). Returns the folders, one per chip; none at all when one cannot be made:
// the hook then throttles without them.
namespace {

// Opens a container's own board, creating it if need be. It lies in a folder the container
// writes, and this daemon is root: nothing planted there (a symlink, a FIFO, a device node whose
// opening has effects) is ever followed or opened; only a regular file is, through a handle that
// names exactly the inode that was checked. -1 with `problem` set otherwise.
int OpenOwnBoard(const std::string& board, bool create, std::string& problem) {
  int fd =
      create ? open(board.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666) : -1;
  if (create && (fd >= 0 || errno != EEXIST)) {
    if (fd < 0) problem = std::strerror(errno);
    return fd;
  }
  int path_fd = open(board.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat info {};
  if (path_fd < 0 || fstat(path_fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    problem = path_fd < 0 ? std::strerror(errno) : "not a regular file";
    if (path_fd >= 0) close(path_fd);
    return -1;
  }
  std::string opened = "/proc/self/fd/" + std::to_string(path_fd);
  fd = open(opened.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) problem = std::strerror(errno);
  close(path_fd);
  return fd;
}

// Makes `link` (in a chip's folder of boards) the container's board at `board`, which is
// created when `create`. Returns what went wrong, or "".
std::string LinkOwnBoard(const std::string& board, const std::string& link, bool create) {
  std::string problem;
  int fd = OpenOwnBoard(board, create, problem);
  if (fd < 0) return problem;
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    problem = std::strerror(errno);
  } else if (fchmod(fd, 0666) != 0) {  // its processes may run as any user
    problem = std::strerror(errno);
  } else {
    struct stat linked {};
    bool current = lstat(link.c_str(), &linked) == 0 && linked.st_ino == info.st_ino &&
                   linked.st_dev == info.st_dev;
    if (!current) {  // a new link, or one to an older file
      unlink(link.c_str());
      // Links exactly the opened file, whatever the container has put at its path since.
      std::string opened = "/proc/self/fd/" + std::to_string(fd);
      if (linkat(AT_FDCWD, opened.c_str(), AT_FDCWD, link.c_str(), AT_SYMLINK_FOLLOW) != 0)
        problem = std::strerror(errno);
    }
  }
  close(fd);
  return problem;
}

}  // namespace

std::vector<std::string> Allocator::PrepareActivityBoards(
    const PluginSettings& settings, const std::string& shared_dir, const std::string& link_name,
    const std::vector<partition::Chip>& chips) {
  std::vector<std::string> folders;
  for (const auto& chip : chips) {
    const std::string folder = ActivityFolder(settings, chip.uuid);
    const std::string board = shared_dir + "/" + std::string(kActivityBoardPrefix) + chip.uuid;
    const std::string link = folder + "/" + link_name;
    std::string problem = PrepareActivityFolder(folder);
    if (problem.empty()) problem = LinkOwnBoard(board, link, /*create=*/true);
    if (!problem.empty()) {
      spdlog::warn(
          "cannot prepare the activity board {} of {}: {} (hook-mode launch timings on {} cannot "
          "tell other containers' work from their own; the folder needs hard links)",
          link, board, problem, chip.uuid);
      return {};
    }
    folders.push_back(folder);
  }
  return folders;
}

ContainerHostPaths Allocator::PrepareHostPaths(const PluginSettings& settings,
                                               const std::string& pod_uid,
                                               const std::string& container,
                                               const std::vector<partition::Chip>& chips) const {
  ContainerHostPaths paths;
  paths.shared_dir = settings.shared_host_dir + "/" + pod_uid + "/" + container;
  // Same layout as the MPS supervisor: <base>/<gpu uuid>/pipe, or <base>/all/pipe for the
  // node-wide daemon that serves multi-GPU containers.
  paths.mps_pipe_dir = settings.mps_host_dir + "/" +
                       (chips.size() == 1 ? chips.front().uuid : std::string("all")) + "/pipe";
  paths.mps_shm_dir = MpsSharedMemoryDir(settings);
  if (settings.isolation == IsolationMode::kHook || settings.isolation == IsolationMode::kMps) {
    std::error_code error;
    std::filesystem::create_directories(paths.shared_dir, error);
    // Container processes may run as any user: all of them must be able to create usage.bin.
    std::filesystem::permissions(paths.shared_dir, std::filesystem::perms::all,
                                 std::filesystem::perm_options::replace, error);
    if (error) {
      spdlog::warn(
          "cannot prepare accounting directory {}: {} (the hook falls back to "
          "per-process accounting)",
          paths.shared_dir, error.message());
    }
  }
  if (settings.isolation == IsolationMode::kHook)
    paths.activity_boards =
        PrepareActivityBoards(settings, paths.shared_dir, pod_uid + "." + container, chips);
  return paths;
}

void Allocator::Forget(const std::string& pod_uid, const std::string& container) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod_uid);
  if (it == pods_.end()) return;
  std::erase(it->second.allocated_containers, container);
  // Else a later request would look like a repeat of an answer that was never marked `success`.
  it->second.device_ids.erase(container);
  it->second.unconfirmed.erase(container);
  it->second.answered_at.erase(container);
  it->second.answers.erase(container);
  if (it->second.allocated_containers.empty()) pods_.erase(it);
}

std::vector<std::string> Allocator::PendingChips(size_t device_count) {
  if (cluster_ == nullptr) return {};
  auto pods = cluster_->ListPodsOnNode(node_name_);
  if (!pods) return {};
  std::lock_guard lock(mu_);
  auto match = MatchAssignment(*pods, node_name_, device_count, NodeChipUuids(), AllocatedLocked());
  if (!match) return {};
  std::vector<std::string> uuids;
  for (const auto& grant : match->container().grants) uuids.push_back(grant.chip_uuid);
  return uuids;
}

void Allocator::RemoveStaleAccountingDirs(const std::vector<PodSummary>& pods) const {
  // A directory is removed only when its pod is gone from the node and it has not been touched
  // for a while, so a pod allocated after the list was taken keeps its directory.
  constexpr auto kGrace = std::chrono::minutes(10);
  std::set<std::string> live;
  for (const auto& pod : pods) live.insert(pod.uid);
  std::error_code error;
  std::filesystem::directory_iterator entries(settings_->Current()->shared_host_dir, error);
  if (error) return;
  const auto now = std::filesystem::file_time_type::clock::now();
  std::vector<std::filesystem::path> board_folders;
  for (const auto& entry : entries) {
    const std::string uid = entry.path().filename().string();
    if (uid.starts_with(kActivityBoardPrefix)) {
      board_folders.push_back(entry.path());
      continue;
    }
    if (!entry.is_directory(error) || live.contains(uid)) continue;
    auto touched = std::filesystem::last_write_time(entry.path(), error);
    if (error || now - touched < kGrace) continue;
    std::filesystem::remove_all(entry.path(), error);
    if (error) {
      spdlog::warn("cannot remove accounting directory {}: {}", entry.path().string(),
                   error.message());
    } else {
      spdlog::info("removed accounting directory of departed pod {}", uid);
    }
  }
  // A board link (<pod uid>.<container>) goes with its pod's accounting directory.
  const std::string shared_host_dir = settings_->Current()->shared_host_dir;
  for (const auto& folder : board_folders) {
    std::filesystem::directory_iterator links(folder, error);
    if (error) continue;
    for (const auto& link : links) {
      const std::string name = link.path().filename().string();
      if (name.starts_with('.')) continue;  // never a container's board link
      const std::string uid = name.substr(0, name.find('.'));
      if (live.contains(uid) || std::filesystem::exists(shared_host_dir + "/" + uid, error))
        continue;
      std::filesystem::remove(link.path(), error);
    }
  }
  RelinkActivityBoards(live);
}

// A live container whose board was deleted and made again (its hook creates a missing board)
// would look idle to its neighbours until its next Allocate: its link is made again here.
void Allocator::RelinkActivityBoards(const std::set<std::string>& live) const {
  const std::string shared_host_dir = settings_->Current()->shared_host_dir;
  std::error_code error;
  for (const std::string& uid : live) {
    std::filesystem::directory_iterator containers(shared_host_dir + "/" + uid, error);
    if (error) continue;
    for (const auto& container : containers) {
      if (!container.is_directory(error) || container.is_symlink(error)) continue;
      std::filesystem::directory_iterator files(container.path(), error);
      if (error) continue;
      for (const auto& file : files) {
        const std::string name = file.path().filename().string();
        if (!name.starts_with(kActivityBoardPrefix)) continue;
        const std::string folder = shared_host_dir + "/" + name;
        if (!std::filesystem::is_directory(folder, error)) continue;
        const std::string link = folder + "/" + uid + "." + container.path().filename().string();
        std::string problem = LinkOwnBoard(file.path().string(), link, /*create=*/false);
        if (!problem.empty()) spdlog::debug("cannot link activity board {}: {}", link, problem);
      }
    }
  }
}

void Allocator::SeedFromProgress(PodRecord& record, const PodSummary& pod,
                                 const partition::PodAssignment& assignment) {
  for (const auto& [container, ids] : RecordedProgress(pod)) {
    const bool assigned = std::any_of(assignment.containers.begin(), assignment.containers.end(),
                                      [&](const auto& c) { return c.container == container; });
    if (!assigned || record.device_ids.contains(container)) continue;
    record.allocated_containers.push_back(container);
    record.device_ids[container] = ids;
    // Answered before this process started: the bind time bounds when (it came later).
    auto bound = pod.annotations.find(kBindTimeAnnotation);
    record.answered_at[container] =
        ParseRfc3339(bound == pod.annotations.end() ? "" : bound->second)
            .value_or(std::chrono::system_clock::now());
  }
}

void Allocator::Reconcile(const std::vector<PodSummary>& pods,
                          std::chrono::system_clock::time_point now) {
  RemoveStaleAccountingDirs(pods);
  std::lock_guard lock(mu_);
  std::map<std::string, PodRecord> next;
  std::set<std::string> ended;  // shown ended, or its bind failed: never kept by the grace
  std::set<std::string> listed;
  for (const auto& pod : pods) {
    auto bind_phase = pod.annotations.find(kBindPhaseAnnotation);
    if (pod.terminal() ||
        (bind_phase != pod.annotations.end() && bind_phase->second == kBindPhaseFailed)) {
      ended.insert(pod.uid);
    }
    listed.insert(pod.uid);
    auto phase = pod.annotations.find(kBindPhaseAnnotation);
    if (phase == pod.annotations.end() || pod.terminal()) continue;
    auto known = pods_.find(pod.uid);
    if (phase->second == kBindPhaseAllocating && known != pods_.end()) {
      next[pod.uid] = known->second;  // partly allocated, still in progress
      next[pod.uid].listed = true;
      continue;
    }
    if (phase->second != kBindPhaseAllocating && phase->second != kBindPhaseSuccess) continue;
    auto text = pod.annotations.find(kAssignmentAnnotation);
    if (text == pod.annotations.end()) continue;
    auto assignment = partition::DecodeAssignment(text->second, pod.uid);
    if (!assignment || assignment->node != node_name_) continue;
    PodRecord record;
    record.assignment = *assignment;
    record.listed = true;
    if (phase->second == kBindPhaseAllocating) {
      // Partly allocated before a restart: its progress annotation says which containers.
      SeedFromProgress(record, pod, *assignment);
      if (!record.allocated_containers.empty()) next[pod.uid] = std::move(record);
      continue;
    }
    for (const auto& c : assignment->containers) record.allocated_containers.push_back(c.container);
    if (known != pods_.end()) {
      record.device_ids = known->second.device_ids;
      record.answered_at = known->second.answered_at;
      record.answers = known->second.answers;
    }
    next[pod.uid] = std::move(record);
  }
  // `pods` comes from the watch cache, which may lag the fresh list an Allocate matched against:
  // a pod answered moments ago may be missing there or show no bind phase yet. Forgetting it
  // would let its next container match the one already answered, so it is kept for a while
  // unless the list shows it ended, or it was listed since and is not any more (deleted).
  for (auto& [uid, record] : pods_) {
    if (next.contains(uid) || ended.contains(uid)) continue;
    if (listed.contains(uid)) record.listed = true;  // shown, still without its bind phase
    if (record.listed && !listed.contains(uid)) continue;
    bool fresh = std::any_of(
        record.answered_at.begin(), record.answered_at.end(),
        [&](const auto& answered) { return now - answered.second <= kUnlistedRecordGrace; });
    if (fresh) next[uid] = std::move(record);
  }
  pods_ = std::move(next);
}

std::vector<Allocator::UsageSource> Allocator::UsageSources() const {
  std::map<std::string, int> index_of;
  for (const auto& chip : inventory_.chips()) index_of[chip.uuid] = chip.index;
  const std::string shared_host_dir = settings_->Current()->shared_host_dir;
  std::lock_guard lock(mu_);
  std::vector<UsageSource> sources;
  for (const auto& [uid, record] : pods_) {
    for (const auto& container : record.assignment.containers) {
      if (std::find(record.allocated_containers.begin(), record.allocated_containers.end(),
                    container.container) == record.allocated_containers.end()) {
        continue;
      }
      UsageSource source;
      source.usage_file = shared_host_dir + "/" + uid + "/" + container.container + "/usage.bin";
      for (const auto& grant : container.grants) source.chip_uuids.push_back(grant.chip_uuid);
      // Same order as Allocate gave the container: by chip index.
      std::sort(
          source.chip_uuids.begin(), source.chip_uuids.end(),
          [&](const std::string& a, const std::string& b) { return index_of[a] < index_of[b]; });
      sources.push_back(std::move(source));
    }
  }
  return sources;
}

std::string Allocator::OverCommitLocked(const std::vector<partition::Chip>& chips,
                                        const std::vector<partition::ChipGrant>& grants,
                                        const PluginSettings& settings) const {
  const auto usage = UsageByChipLocked();
  for (size_t i = 0; i < chips.size(); ++i) {
    auto held = usage.find(chips[i].uuid);
    const int64_t total =
        (held == usage.end() ? 0 : held->second.memory_mib) + grants[i].memory_mib;
    const int64_t most = MostMemoryAdmitted(settings.policy, chips[i]);
    if (total > most) {
      return "chip " + chips[i].uuid + " would hold " + std::to_string(total) +
             " MiB of slices, more than the " + std::to_string(most) +
             " MiB its policy ever admits: the pod was placed on room this node does not have";
    }
  }
  return "";
}

std::map<std::string, ChipUsage> Allocator::UsageByChip() const {
  std::lock_guard lock(mu_);
  return UsageByChipLocked();
}

std::map<std::string, ChipUsage> Allocator::UsageByChipLocked() const {
  std::map<std::string, ChipUsage> usage;
  for (const auto& [uid, record] : pods_) {
    for (const auto& container : record.assignment.containers) {
      if (std::find(record.allocated_containers.begin(), record.allocated_containers.end(),
                    container.container) == record.allocated_containers.end()) {
        continue;
      }
      for (const auto& grant : container.grants) {
        ChipUsage& u = usage[grant.chip_uuid];
        u.memory_mib += grant.memory_mib;
        u.cores += grant.cores;
        u.slices += 1;
      }
    }
  }
  return usage;
}

}  // namespace flexai::device_plugin
