// The `hi` policy: FGD's fragmentation gradient for whole-GPU, multi-GPU and CPU-only tasks, and a
// bin-packing plan for fractional (shared) tasks.
//
// Why a plan: at 100% arrived, unallocated capacity equals idle capacity, and on openb that idle
// is mostly partial-GPU leftovers. FGD (and GPU-level best fit) pair shared tasks as they come,
// e.g. 470+470 (60 left), 650+230 (120 left), 470+320 (210 left). The plan (hi_plan.h) packs the
// typical workload's fractional asks offline (minimum bin slack: 810+160, 650+320, 470+470,
// 550+230+220, 590+370, ...) and gives every GPU a shared task opens one configuration as its
// target, the one furthest behind its planned share; later tasks fill the slots of their exact
// size. Offline on the default trace's 3,078 shared asks (random order): best fit wastes 261 GPUs,
// the plan 230, the configuration LP's optimum 233 (the 810s alone force 190).
//
// Order for a shared task: a planned slot of its size (tightest GPU), then a fresh GPU (FGD's
// gradient picks the node, so whole 8-GPU nodes stay whole), then any GPU with room (best fit).
// A placement whose FGD grade is below 45 (it fragments its node, typically by eating the CPU its
// idle GPUs need) drops one band: gpushare100 13.64 -> 12.84. Multi-GPU-heavy workloads fill
// before opening; model-restricted workloads (gpu_spec) use FGD alone (the plan measured worse).
//
// Fragmentation counts host memory too (FGD's counts CPU only): a typical task that lacks memory
// on a node cannot use its idle GPUs. openb's 8-GPU G2 nodes have 48 GiB per GPU, exactly what
// its typical whole-GPU task asks, so memory strands GPUs as often as CPU does; without it
// (memoryFrag=0) default is 4.63, cpu0 5.02, multigpu20 4.34, gpuspec25 6.03.
//
// Measured (flexai-sim, real trace files, seeds 42-51, median unallocated % at 100% arrived, hi vs
// FGD): default 4.54/4.74, cpu0 4.79/5.12, cpu050 4.74/4.99, cpu100 4.67/4.88, cpu250 6.95/6.90,
// gpushare20 3.54/3.63, gpushare60 8.58/8.75, gpushare100 12.73/13.38, gpuspec10 5.37/5.34,
// gpuspec25 5.84/6.03, multigpu20 4.10/4.35, multigpu40 3.10/3.16. Median decision ~200 us.
// Floor: a configuration LP (any packing, CPU ignored) leaves >= 3.0-3.1% on the default trace,
// so issue 3's 3.0 target is out of reach for any policy. Tried and dropped: best-fit CPU for
// CPU-only tasks (4.89), GPU-level best fit (4.80), sum-of-squares (worse), best-fit
// tie-breakers (cpu0/cpu050/cpu100/gpushare* worse, gpuspec much worse).
#include "partition/placement/hi_policy.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "partition/placement/gpu_ask.h"

namespace flexai::partition {
namespace {

double Knob(const std::map<std::string, double>& weights, const std::string& name, double def) {
  // hi-scheduler refuses weights outside WeightNames(): a knob read here but not listed there
  // could never be set. Every construction reads every knob, so any test catches the slip.
  const auto& listed = HiPolicy::WeightNames();
  if (std::find(listed.begin(), listed.end(), name) == listed.end()) {
    throw std::logic_error("hi knob " + name + " is missing from HiPolicy::WeightNames()");
  }
  auto it = weights.find(name);
  return it == weights.end() ? def : it->second;
}

// Score bands for a shared task's chip, highest first; FGD's grade (0..101) orders within a band.
constexpr double kSlotBand = 3000;  // a GPU whose plan has a slot of exactly this size
constexpr double kOpenBand = 2000;  // a fresh GPU, opened with a plan holding this size
constexpr double kGapBand = 1000;   // any other GPU with room, tightest first
constexpr int kGpu = 1000;

// Share of the typical workload's GPU demand that asks for several whole GPUs at once.
double MultiGpuShare(const TypicalWorkload& workload) {
  double multi = 0, all = 0;
  for (const auto& t : workload.tasks) {
    double demand = t.popularity * t.shape.num_gpu * t.shape.gpu_milli;
    all += demand;
    if (t.shape.num_gpu > 1) multi += demand;
  }
  return all > 0 ? multi / all : 0;
}

// Share of the typical workload's GPU demand restricted to some GPU models.
double SpecShare(const TypicalWorkload& workload) {
  double spec = 0, all = 0;
  for (const auto& t : workload.tasks) {
    double demand = t.popularity * t.shape.num_gpu * t.shape.gpu_milli;
    all += demand;
    if (!t.shape.gpu_spec.empty()) spec += demand;
  }
  return all > 0 ? spec / all : 0;
}

}  // namespace

const std::vector<std::string>& HiPolicy::WeightNames() {
  static const std::vector<std::string> names = {
      "memoryFrag", "planSpecLimit", "plan",      "planAfterRelease", "fillFirstMulti", "fillFirst",
      "cpuFit",     "gpuFit",        "fillBelow", "bandGrade",        "demoteBelow"};
  return names;
}

HiPolicy::HiPolicy(TypicalWorkload workload, const std::map<std::string, double>& weights)
    : frag_(workload, Knob(weights, "memoryFrag", 1) != 0), plan_(MakeBinPlan(workload)) {
  // Model-restricted tasks break the plan's premise that any task of a size can fill a slot of
  // that size (measured: gpuspec10 5.43, gpuspec25 6.28 with the plan vs FGD's 5.34 and 6.03), so
  // such workloads fall back to FGD's gradient for shared tasks too.
  const bool plan_fits = SpecShare(workload) < Knob(weights, "planSpecLimit", 0.05);
  use_plan_ = Knob(weights, "plan", plan_fits ? 1 : 0) != 0;
  // The plan pairs asks for a cluster that fills up. Once tasks leave, a planned partner may
  // never come while the GPU it waits on is lost to whole-GPU tasks: replayed with departures
  // (flexai-sim --mode timeline, default trace, 6000x, 5 passes) the plan took p99 queueing delay
  // from 527 s (gradient only) to 775 s, with 3x more whole-GPU tasks waiting over 10 min. So a
  // live cluster routes shared tasks by the gradient alone.
  plan_after_release_ = Knob(weights, "planAfterRelease", 0) != 0;
  // Where multi-GPU tasks carry much of the demand, wholly free GPUs are worth more than a
  // planned pairing: shared tasks then fill any GPU with room before opening a fresh one.
  const double multi_limit = Knob(weights, "fillFirstMulti", 0.12);
  fill_first_ = Knob(weights, "fillFirst", MultiGpuShare(workload) >= multi_limit ? 1 : 0) != 0;
  cpu_weight_ = Knob(weights, "cpuFit", cpu_weight_);
  fit_weight_ = Knob(weights, "gpuFit", fit_weight_);
  fill_below_ = Knob(weights, "fillBelow", fill_below_);
  band_grade_ = Knob(weights, "bandGrade", band_grade_);
  demote_below_ = Knob(weights, "demoteBelow", demote_below_);
}

double HiPolicy::Grade(double frag_before, const GpuNodeView& after) const {
  double g = static_cast<double>(FragGradientScore(frag_before, frag_.Of(after)));
  double idle_after = static_cast<double>(after.idle_milli()) / kMaxSpecGpuMilli;
  double cpu_after = static_cast<double>(after.cpu_left_milli) / kMaxSpecCpuMilli;
  return g + (fit_weight_ * (1 - idle_after) + cpu_weight_ * (1 - cpu_after)) / 2;
}

std::optional<NodeChoice> HiPolicy::EvaluateMemoryOnly(const NodeState& node,
                                                       const PodRequest& pod) const {
  // A chip already in use before a fresh one (fresh chips stay whole for the pods that need
  // them), then the chip left with the least free memory.
  const SliceRequest& slice = pod.containers[0].slice;
  ChipSet feasible = node.FeasibleChips(slice);
  double best = -1;
  int best_chip = -1;
  for (int i = 0; i < node.chip_count(); ++i) {
    if (!(feasible & (ChipSet{1} << i))) continue;
    const ChipLedger& ledger = node.ledger(i);
    const double limit = static_cast<double>(ledger.capacity().memory_limit_mib());
    const int64_t ask = ResolveDemand(slice, ledger.capacity().memory_limit_mib()).memory_mib;
    const double used_after =
        limit > 0 ? 1 - static_cast<double>(ledger.free_memory_mib() - ask) / limit : 0;
    const double s = (ledger.empty() ? 0 : kGapBand) + used_after;
    if (s > best) best = s, best_chip = i;
  }
  if (best_chip < 0) return std::nullopt;
  return NodeChoice{best, {ChipSet{1} << best_chip}};
}

std::optional<NodeChoice> HiPolicy::EvaluateShared(const NodeState& node, const PodRequest& pod,
                                                   const GpuNodeView& before) const {
  const int milli = AskOf(pod).milli;
  if (milli == 0) return EvaluateMemoryOnly(node, pod);
  const double frag_before = frag_.Of(before);
  const bool use_plan = use_plan_ && (plan_after_release_ || !plan_.ReleasesSeen());
  const bool planned = use_plan && plan_.Planned(milli);
  // Once wholly free GPUs run short, each one a shared task opens is a whole-GPU task lost:
  // then any GPU with room comes before a fresh one.
  const bool fill_first = fill_first_ || plan_.FreeShare() < fill_below_;
  GpuNodeView after = before;
  after.cpu_left_milli -= pod.host.cpu_milli;
  after.memory_left_mib -= pod.host.memory_mib;
  ChipSet feasible = node.FeasibleChips(pod.containers[0].slice);
  double best = -1e300;
  int best_chip = -1;
  // Chips with equal room grade equally (fragmentation reads the multiset of leftovers): each
  // distinct room is graded once.
  std::vector<std::pair<int, double>> graded;
  graded.reserve(static_cast<size_t>(node.chip_count()));
  for (int i = 0; i < node.chip_count(); ++i) {
    if (!(feasible & (ChipSet{1} << i))) continue;
    auto& left = after.gpu_left_milli[static_cast<size_t>(i)];
    const int gap = left - milli;
    const bool fresh = left >= kGpu;
    const int room = left;
    auto seen =
        std::find_if(graded.begin(), graded.end(), [&](const auto& g) { return g.first == room; });
    if (seen == graded.end()) {
      left -= milli;
      graded.emplace_back(room, Grade(frag_before, after));
      left += milli;
      seen = std::prev(graded.end());
    }
    const double grade = seen->second;
    double s;
    if (use_plan && plan_.HasSlot(node, i, milli)) {
      s = kSlotBand - gap / 1000.0 + band_grade_ * grade;
    } else if (use_plan && !fresh) {
      s = (fill_first ? kOpenBand + 500 : kGapBand) - gap / 1000.0 + band_grade_ * grade;
    } else {
      s = (planned ? kOpenBand : 0) + grade;
    }
    // A placement that fragments its node badly (typically: it eats the CPU its idle GPUs
    // need) drops one band.
    if (grade < demote_below_) s -= kGapBand;
    if (s > best) best = s, best_chip = i;
  }
  if (best_chip < 0) return std::nullopt;
  return NodeChoice{best, {ChipSet{1} << best_chip}};
}

std::optional<uint64_t> HiPolicy::StateVersion() const {
  // Slots change only through OnNodeChanged. A node seen for the first time changes FreeShare
  // alone, which only a fillBelow knob reads: without one, a cluster's first evaluation does not
  // make every score it produced stale.
  return fill_below_ > 0 ? plan_.Version() : plan_.SlotsVersion();
}

std::optional<NodeChoice> HiPolicy::Evaluate(const NodeState& node, const PodRequest& pod) const {
  plan_.See(node);
  if (!Fits(node, pod)) return std::nullopt;
  const GpuAsk ask = AskOf(pod);
  const GpuNodeView before = ViewOf(node);
  if (ask.shared() && pod.containers.size() == 1) return EvaluateShared(node, pod, before);
  auto chips = PickChipsInOrder(node, pod, TightestFirst(node));
  if (!chips) return std::nullopt;
  GpuNodeView after = before;
  after.cpu_left_milli -= pod.host.cpu_milli;
  after.memory_left_mib -= pod.host.memory_mib;
  for (ChipSet set : *chips) {
    for (int i = 0; i < node.chip_count(); ++i) {
      if (set & (ChipSet{1} << i)) after.gpu_left_milli[static_cast<size_t>(i)] -= ask.milli;
    }
  }
  return NodeChoice{Grade(frag_.Of(before), after), std::move(*chips)};
}

}  // namespace flexai::partition
