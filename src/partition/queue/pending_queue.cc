#include "partition/queue/pending_queue.h"

#include <algorithm>

namespace flexai::partition {
namespace {

bool Older(const PendingPod& a, const PendingPod& b) {
  return a.created != b.created ? a.created < b.created : a.key < b.key;
}

}  // namespace

int WholeChipsAsked(const PodRequest& request) {
  int chips = 0;
  for (const auto& c : request.containers) {
    if (c.slice.exclusive()) chips += c.slice.chips;
  }
  return chips;
}

void PendingQueue::Upsert(PendingPod pod) {
  std::string uid = pod.uid;
  pods_[uid] = std::move(pod);
}

void PendingQueue::Remove(const std::string& uid) { pods_.erase(uid); }

const PendingPod* PendingQueue::Find(const std::string& uid) const {
  auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : &it->second;
}

std::vector<PendingPod> PendingQueue::Oldest(size_t limit) const {
  std::vector<PendingPod> out;
  out.reserve(pods_.size());
  for (const auto& [uid, pod] : pods_) out.push_back(pod);
  size_t keep = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), Older);
  out.resize(keep);
  return out;
}

std::optional<PendingPod> PendingQueue::OldestMultiChip() const {
  const PendingPod* best = nullptr;
  for (const auto& [uid, pod] : pods_) {
    if (pod.gang_member || WholeChipsAsked(pod.request) < kMultiChipThreshold) continue;
    if (!best || Older(pod, *best)) best = &pod;
  }
  if (!best) return std::nullopt;
  return *best;
}

}  // namespace flexai::partition
