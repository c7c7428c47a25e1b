// The pods waiting for chips, oldest first: what the Hi Scheduler knows of its queue from the pod
// watch (kube-scheduler keeps the real queue; this is its mirror for queue-aware decisions).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "partition/assignment.h"

namespace flexai::partition {

using QueueClock = std::chrono::system_clock;

struct PendingPod {
  std::string uid;
  std::string key;  // namespace/name
  QueueClock::time_point created{};
  PodRequest request;
  bool gang_member = false;
};

// Chips the pod takes whole (containers asking neither memory nor compute).
int WholeChipsAsked(const PodRequest& request);

// A pod asking at least this many whole chips is "multi-chip": the one that small pods starve.
inline constexpr int kMultiChipThreshold = 2;

class PendingQueue {
 public:
  void Upsert(PendingPod pod);
  void Remove(const std::string& uid);
  size_t size() const { return pods_.size(); }
  const PendingPod* Find(const std::string& uid) const;
  // Oldest first (creation time, then key), at most `limit`.
  std::vector<PendingPod> Oldest(size_t limit) const;
  // The oldest pod asking kMultiChipThreshold or more whole chips, gang members excepted (a gang
  // holds its own reservations).
  std::optional<PendingPod> OldestMultiChip() const;

 private:
  std::map<std::string, PendingPod> pods_;  // by uid
};

}  // namespace flexai::partition
