#include "device_plugin/assignment_matcher.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "partition/assignment_codec.h"

namespace flexai::device_plugin {
namespace {

struct Candidate {
  MatchedContainer match;
  std::optional<std::chrono::system_clock::time_point> bind_time;
  std::optional<std::chrono::system_clock::time_point> created;
};

std::string Annotation(const PodSummary& pod, const char* key) {
  auto it = pod.annotations.find(key);
  return it == pod.annotations.end() ? "" : it->second;
}

// Present times before absent ones, then earlier first; 0 when equal.
int CompareTimes(const std::optional<std::chrono::system_clock::time_point>& a,
                 const std::optional<std::chrono::system_clock::time_point>& b) {
  if (a.has_value() != b.has_value()) return a.has_value() ? -1 : 1;
  if (!a || *a == *b) return 0;
  return *a < *b ? -1 : 1;
}

bool Earlier(const Candidate& a, const Candidate& b) {
  if (int c = CompareTimes(a.bind_time, b.bind_time)) return c < 0;
  if (int c = CompareTimes(a.created, b.created)) return c < 0;
  return std::tie(a.match.pod.namespace_name, a.match.pod.name, a.match.pod.uid) <
         std::tie(b.match.pod.namespace_name, b.match.pod.name, b.match.pod.uid);
}

// The first chip the assignment names that is not in `node_chips`; empty when none.
std::string ChipNotIn(const partition::PodAssignment& assignment,
                      const std::set<std::string>& node_chips) {
  for (const auto& container : assignment.containers) {
    for (const auto& grant : container.grants) {
      if (!node_chips.contains(grant.chip_uuid)) return grant.chip_uuid;
    }
  }
  return "";
}

bool NamesChipNotIn(const partition::PodAssignment& assignment,
                    const std::set<std::string>& node_chips) {
  return !ChipNotIn(assignment, node_chips).empty();
}

}  // namespace

Result<MatchedContainer> MatchAssignment(const std::vector<PodSummary>& pods,
                                         const std::string& node, size_t device_count,
                                         const std::set<std::string>& node_chips,
                                         const AllocatedContainers& allocated) {
  std::vector<Candidate> candidates;
  std::vector<std::string> skipped;
  for (const auto& pod : pods) {
    if (pod.terminal() || Annotation(pod, kBindPhaseAnnotation) != kBindPhaseAllocating) continue;
    // Being deleted: kubelet admits no new container of it (a pod recreated under its name, still
    // shown beside it by a lagging cache, must not lose its Allocate to it).
    if (pod.being_deleted) {
      skipped.push_back(pod.namespace_name + "/" + pod.name + ": being deleted");
      continue;
    }
    std::string pod_ref = pod.namespace_name + "/" + pod.name;
    auto assignment = partition::DecodeAssignment(Annotation(pod, kAssignmentAnnotation), pod.uid);
    if (!assignment) {
      skipped.push_back(pod_ref + ": " + assignment.error().message);
      continue;
    }
    if (assignment->node != node) {
      skipped.push_back(pod_ref + ": assigned to node " + assignment->node);
      continue;
    }
    if (std::string foreign = ChipNotIn(*assignment, node_chips); !foreign.empty()) {
      skipped.push_back(pod_ref + ": names chip " + foreign + ", not on this node");
      continue;
    }
    // Containers are handed to kubelet in assignment order: only the first pending one can be
    // next, and its chip count must match.
    const ContainerDeviceIds progress = RecordedProgress(pod);
    for (size_t c = 0; c < assignment->containers.size(); ++c) {
      const auto& container = assignment->containers[c];
      if (allocated.contains({pod.uid, container.container}) ||
          progress.contains(container.container)) {
        continue;
      }
      if (container.grants.size() == device_count) {
        candidates.push_back({MatchedContainer{pod, *assignment, c},
                              ParseRfc3339(Annotation(pod, kBindTimeAnnotation)),
                              ParseRfc3339(pod.creation_timestamp)});
      } else {
        skipped.push_back(pod_ref + ": its next container " + container.container + " has " +
                          std::to_string(container.grants.size()) + " chip(s)");
      }
      break;
    }
  }
  if (candidates.empty()) {
    std::string message = "no pod on node " + node + " is waiting (" + kBindPhaseAnnotation + "=" +
                          kBindPhaseAllocating + ") for a container with " +
                          std::to_string(device_count) + " chip(s)";
    for (const auto& why : skipped) message += "; skipped " + why;
    return Error{message};
  }
  return std::min_element(candidates.begin(), candidates.end(), Earlier)->match;
}

std::optional<MatchedContainer> FindAnsweredContainer(const std::vector<PodSummary>& pods,
                                                      const std::string& node,
                                                      const std::vector<std::string>& device_ids,
                                                      const std::set<std::string>& node_chips,
                                                      const AnsweredDeviceIds& answered,
                                                      std::chrono::system_clock::time_point now) {
  std::vector<std::string> wanted = device_ids;
  std::sort(wanted.begin(), wanted.end());
  for (const auto& pod : pods) {
    const std::string phase = Annotation(pod, kBindPhaseAnnotation);
    if (!pod.phase.empty() && pod.phase != "Pending") continue;  // admitted, ran, or ended
    if (pod.being_deleted) continue;  // its devices are on their way to another pod
    if (phase != kBindPhaseAllocating && phase != kBindPhaseSuccess) continue;
    auto assignment = partition::DecodeAssignment(Annotation(pod, kAssignmentAnnotation), pod.uid);
    if (!assignment || assignment->node != node) continue;
    if (NamesChipNotIn(*assignment, node_chips)) continue;  // annotations are user-editable
    // Only the plugin's own `success` patch writes device-ids: on an `allocating` pod they are
    // stale (e.g. copied into a recreated pod) and name no answer; there the progress annotation,
    // bound to the pod's UID and assignment, names the containers answered so far.
    auto recorded = phase == kBindPhaseSuccess
                        ? DecodeContainerDeviceIds(Annotation(pod, kDeviceIdsAnnotation))
                        : std::optional<ContainerDeviceIds>(RecordedProgress(pod));
    auto bound = ParseRfc3339(Annotation(pod, kBindTimeAnnotation));
    const bool recorded_recent = bound && now - *bound <= kRepeatWindow;
    for (size_t c = 0; c < assignment->containers.size(); ++c) {
      const std::string& name = assignment->containers[c].container;
      const std::vector<std::string>* ids = nullptr;
      if (auto known = answered.find({pod.uid, name}); known != answered.end()) {
        if (now - known->second.answered_at > kRepeatWindow) continue;
        ids = &known->second.device_ids;
      } else if (recorded && recorded_recent) {
        if (auto it = recorded->find(name); it != recorded->end()) ids = &it->second;
      }
      if (ids != nullptr && *ids == wanted &&
          assignment->containers[c].grants.size() == wanted.size()) {
        return MatchedContainer{pod, *assignment, c};
      }
    }
  }
  return std::nullopt;
}

namespace {

std::string ProgressKey(const PodSummary& pod) {
  return pod.uid + "@" + Annotation(pod, kBindTimeAnnotation) + "/";
}

}  // namespace

ContainerDeviceIds RecordedProgress(const PodSummary& pod) {
  const std::string text = Annotation(pod, kAllocatedContainersAnnotation);
  const std::string key = ProgressKey(pod);
  if (pod.uid.empty() || !text.starts_with(key)) return {};
  return DecodeContainerDeviceIds(std::string_view(text).substr(key.size()))
      .value_or(ContainerDeviceIds{});
}

std::string EncodeProgress(const PodSummary& pod, const ContainerDeviceIds& answered) {
  return ProgressKey(pod) + EncodeContainerDeviceIds(answered);
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::string rest = text.substr(static_cast<size_t>(consumed));
  std::chrono::nanoseconds fraction{0};
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 1;
    int64_t value = 0;
    int64_t scale = 1'000'000'000;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (scale > 1) {
        scale /= 10;
        value += (rest[digits] - '0') * scale;
      }
      ++digits;
    }
    if (digits == 1) return std::nullopt;
    fraction = std::chrono::nanoseconds(value);
    rest = rest.substr(digits);
  }
  if (rest != "Z") return std::nullopt;
  time_t seconds = timegm(&tm);
  return std::chrono::system_clock::from_time_t(seconds) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

std::string FormatRfc3339(std::chrono::system_clock::time_point time) {
  time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace flexai::device_plugin
