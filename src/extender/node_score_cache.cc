#include "extender/node_score_cache.h"

namespace flexai::extender {

void ShapeVerdicts::Lookup(const std::vector<const CachedNode*>& nodes, uint64_t policy_version,
                           bool need_reason, std::vector<NodeVerdict>& out,
                           std::vector<bool>& hit) const {
  std::shared_lock lock(mu_);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const CachedNode* node = nodes[i];
    if (!node) continue;
    auto it = entries_.find(node);
    if (it == entries_.end()) continue;
    const Entry& e = it->second;
    if (e.epoch != node->epoch || e.policy_version != policy_version) continue;
    if (need_reason && !e.verdict.fits && !e.verdict.explained) continue;
    out[i] = e.verdict;
    hit[i] = true;
  }
}

void ShapeVerdicts::Store(const std::vector<std::pair<const CachedNode*, NodeVerdict>>& fresh,
                          uint64_t policy_version, size_t cluster_nodes) {
  if (fresh.empty()) return;
  std::unique_lock lock(mu_);
  if (entries_.size() > 2 * cluster_nodes + 64) entries_.clear();
  for (const auto& [node, verdict] : fresh) {
    entries_.insert_or_assign(node, Entry{node->epoch, policy_version, verdict});
  }
}

std::shared_ptr<ShapeVerdicts> NodeScoreCache::For(
    const std::string& shape, const std::shared_ptr<const partition::PlacementPolicy>& policy) {
  std::lock_guard lock(mu_);
  for (auto it = shapes_.begin(); it != shapes_.end(); ++it) {
    if (it->first != shape) continue;
    if (it->second->policy() != policy.get()) {
      it->second = std::make_shared<ShapeVerdicts>(policy);
    }
    shapes_.splice(shapes_.begin(), shapes_, it);
    return shapes_.front().second;
  }
  shapes_.emplace_front(shape, std::make_shared<ShapeVerdicts>(policy));
  if (shapes_.size() > kShapes) shapes_.pop_back();
  return shapes_.front().second;
}

}  // namespace flexai::extender
