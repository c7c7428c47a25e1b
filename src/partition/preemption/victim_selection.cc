#include "partition/preemption/victim_selection.h"

#include <algorithm>
#include <limits>
#include <map>

namespace flexai::partition {
namespace {

// Pods by decreasing importance: higher priority first, ties by uid (deterministic answers).
void SortMostImportantFirst(const std::vector<RunningPod>& pods, std::vector<size_t>& order) {
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (pods[a].priority != pods[b].priority) return pods[a].priority > pods[b].priority;
    return pods[a].uid < pods[b].uid;
  });
}

// Takes pods' slices off a node and gives them back; every pod it took is back when it dies, so
// the caller's node leaves SelectVictims as it came in, whatever path returns.
class Evictions {
 public:
  Evictions(NodeState& node, const std::vector<RunningPod>& pods) : node_(node), pods_(pods) {}
  ~Evictions() {
    for (const auto& [index, assignment] : taken_) node_.Restore(assignment);
  }
  Evictions(const Evictions&) = delete;
  Evictions& operator=(const Evictions&) = delete;

  void Take(size_t index) {
    const std::string& uid = pods_[index].uid;
    auto it = node_.pods().find(uid);
    if (it == node_.pods().end()) return;
    PodAssignment assignment = it->second;
    node_.Release(uid);
    taken_.emplace(index, std::move(assignment));
  }
  // Returns a taken pod's slices as they were (restored: an over-full node stays over-full).
  void GiveBack(size_t index) {
    auto it = taken_.find(index);
    if (it == taken_.end()) return;
    node_.Restore(it->second);
    taken_.erase(it);
  }

 private:
  NodeState& node_;
  const std::vector<RunningPod>& pods_;
  std::map<size_t, PodAssignment> taken_;
};

// Whether evicting `victims` (in importance order) overdraws a budget for each of them, as
// kube-scheduler's filterPodsWithPDBViolation charges budgets.
std::vector<bool> ViolationsInOrder(const std::vector<RunningPod>& pods,
                                    const std::vector<size_t>& victims,
                                    const std::vector<int64_t>& budget_allowed) {
  std::vector<int64_t> left = budget_allowed;
  std::vector<bool> violates;
  violates.reserve(victims.size());
  for (size_t i : victims) {
    bool violated = false;
    for (size_t b : pods[i].budgets) {
      if (b < left.size() && --left[b] < 0) violated = true;
    }
    violates.push_back(violated);
  }
  return violates;
}

VictimSet MakeSet(const std::vector<RunningPod>& pods, std::vector<size_t> victims,
                  const std::vector<int64_t>& budget_allowed) {
  VictimSet set;
  set.cost = CostOf(pods, victims, budget_allowed);
  std::sort(victims.begin(), victims.end(), [&](size_t a, size_t b) {
    if (pods[a].priority != pods[b].priority) return pods[a].priority < pods[b].priority;
    return pods[a].uid < pods[b].uid;
  });
  for (size_t i : victims) set.uids.push_back(pods[i].uid);
  return set;
}

}  // namespace

VictimCost CostOf(const std::vector<RunningPod>& pods, const std::vector<size_t>& victims,
                  const std::vector<int64_t>& budget_allowed) {
  std::vector<size_t> order = victims;
  SortMostImportantFirst(pods, order);
  VictimCost cost;
  cost.victims = static_cast<int64_t>(victims.size());
  cost.highest_priority = std::numeric_limits<int64_t>::min();
  for (bool v : ViolationsInOrder(pods, order, budget_allowed)) cost.pdb_violations += v ? 1 : 0;
  for (size_t i : victims) {
    cost.highest_priority = std::max<int64_t>(cost.highest_priority, pods[i].priority);
    cost.priority_sum += pods[i].priority;
  }
  return cost;
}

std::optional<VictimSet> SelectVictims(NodeState& node, int32_t preemptor_priority,
                                       const std::vector<RunningPod>& pods,
                                       const std::vector<int64_t>& budget_allowed,
                                       const FitCheck& fits, VictimSearchLimits limits) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < pods.size(); ++i) {
    if (pods[i].priority < preemptor_priority && node.pods().count(pods[i].uid)) {
      candidates.push_back(i);
    }
  }
  if (candidates.empty()) {
    if (fits(node)) return VictimSet{};
    return std::nullopt;
  }

  // Greedy pass: take everything, then give back what still leaves room. Pods whose eviction
  // would overdraw a budget are given back first, then the rest; each group by importance.
  std::vector<size_t> greedy;
  {
    Evictions evictions(node, pods);
    for (size_t i : candidates) evictions.Take(i);
    if (!fits(node)) return std::nullopt;
    std::vector<size_t> order = candidates;
    SortMostImportantFirst(pods, order);
    std::vector<bool> violates = ViolationsInOrder(pods, order, budget_allowed);
    std::vector<size_t> reprieve_order;
    for (bool first : {true, false}) {
      for (size_t k = 0; k < order.size(); ++k) {
        if (violates[k] == first) reprieve_order.push_back(order[k]);
      }
    }
    for (size_t i : reprieve_order) {
      evictions.GiveBack(i);
      if (!fits(node)) {
        evictions.Take(i);
        greedy.push_back(i);
      }
    }
  }
  VictimSet best = MakeSet(pods, greedy, budget_allowed);
  if (greedy.empty()) return best;

  // Search: sets of increasing size, cheapest pods first, each tried only when it would cost less
  // than the best so far. Larger sets than the best can only win on budget violations.
  std::vector<size_t> cheap_first = candidates;
  std::sort(cheap_first.begin(), cheap_first.end(), [&](size_t a, size_t b) {
    if (pods[a].priority != pods[b].priority) return pods[a].priority < pods[b].priority;
    return pods[a].uid < pods[b].uid;
  });
  const size_t n = cheap_first.size();
  int checks = 0;
  int64_t visits = 0;
  const int64_t max_visits = int64_t{64} * std::max(limits.max_fit_checks, 1);
  for (size_t k = 1; k <= n; ++k) {
    if (static_cast<int64_t>(k) > best.cost.victims && best.cost.pdb_violations == 0) break;
    std::vector<size_t> pick(k);  // positions in cheap_first, increasing
    for (size_t j = 0; j < k; ++j) pick[j] = j;
    while (true) {
      if (checks >= limits.max_fit_checks || ++visits > max_visits) return best;
      std::vector<size_t> victims;
      victims.reserve(k);
      for (size_t p : pick) victims.push_back(cheap_first[p]);
      if (CostOf(pods, victims, budget_allowed) < best.cost) {
        ++checks;
        bool room;
        {
          Evictions evictions(node, pods);
          for (size_t i : victims) evictions.Take(i);
          room = fits(node);
        }
        if (room) best = MakeSet(pods, victims, budget_allowed);
      }
      // Next combination of k positions out of n.
      size_t j = k;
      while (j > 0 && pick[j - 1] == n - k + j - 1) --j;
      if (j == 0) break;
      ++pick[j - 1];
      for (size_t m = j; m < k; ++m) pick[m] = pick[m - 1] + 1;
    }
  }
  return best;
}

}  // namespace flexai::partition
