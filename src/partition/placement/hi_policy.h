// The Hi Scheduler's own placement policy (the default). See hi_policy.cc for the design.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "partition/placement/fgd_policy.h"
#include "partition/placement/hi_plan.h"
#include "partition/placement/placement_policy.h"
#include "partition/placement/simple_policies.h"

namespace flexai::partition {

class HiPolicy : public PlacementPolicy {
 public:
  // `weights` are the scheduler knobs of the slice policy (unknown names are ignored).
  HiPolicy(TypicalWorkload workload, const std::map<std::string, double>& weights = {});
  std::string_view name() const override { return "hi"; }
  // The knobs it reads from `weights` (hi_policy.cc says what each does).
  static const std::vector<std::string>& WeightNames();
  std::optional<NodeChoice> Evaluate(const NodeState& node, const PodRequest& pod) const override;
  void OnNodeChanged(const NodeState& node) override { plan_.OnNodeChanged(node); }
  // The bin-packing plan is the only state kept between calls (the fragmentation memo is pure).
  std::optional<uint64_t> StateVersion() const override;

 private:
  // FGD's integer gradient for moving the node from `before` to `after`, plus best-fit
  // tie-breakers below one step.
  double Grade(double frag_before, const GpuNodeView& after) const;
  // A slice of chip memory with no compute share (best effort): invisible to the cores-based
  // fragmentation measure, so it is packed by memory instead.
  std::optional<NodeChoice> EvaluateMemoryOnly(const NodeState& node, const PodRequest& pod) const;
  std::optional<NodeChoice> EvaluateShared(const NodeState& node, const PodRequest& pod,
                                           const GpuNodeView& before) const;

  FragmentationCache frag_;
  PlanTracker plan_;
  double cpu_weight_ = 0;  // preference for nodes left with less free CPU, among equal grades
  double fit_weight_ = 0;  // preference for nodes left with less idle GPU, among equal grades
  bool use_plan_ = true;   // route shared tasks by the bin-packing plan (else FGD only)
  bool plan_after_release_ = false;  // ... even once tasks have started to leave
  bool fill_first_ = false;          // any partial GPU before a fresh one (else only planned slots)
  double fill_below_ = 0;            // ... and so once fewer than this share of GPUs is wholly free
  double band_grade_ = 0;            // weight of FGD's grade within the slot and gap bands
  double demote_below_ = 45;         // a shared placement graded below this drops one band
};

}  // namespace flexai::partition
