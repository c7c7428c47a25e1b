#include "partition/node_state.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace flexai::partition {

int64_t PodRequest::ChipSharePercent() const {
  int64_t total = 0;
  for (const auto& c : containers) {
    total +=
        static_cast<int64_t>(c.slice.chips) * (c.slice.exclusive() ? kCoresPerChip : c.slice.cores);
  }
  return total;
}

NodeState::NodeState(std::string name, HostResources host_capacity, std::vector<Chip> chips,
                     std::vector<ChipCapacity> capacities,
                     std::map<std::string, std::string> labels)
    : name_(std::move(name)),
      labels_(std::move(labels)),
      host_capacity_(host_capacity),
      chips_(std::move(chips)) {
  assert(chips_.size() == capacities.size());
  assert(chips_.size() <= kMaxChipsPerNode);
  ledgers_.reserve(capacities.size());
  for (const auto& cap : capacities) ledgers_.emplace_back(cap);
}

int NodeState::IndexOf(const std::string& uuid) const {
  for (int i = 0; i < chip_count(); ++i) {
    if (chips_[static_cast<size_t>(i)].uuid == uuid) return i;
  }
  return -1;
}

Status NodeState::SetHealth(const std::string& chip_uuid, Health health) {
  int i = IndexOf(chip_uuid);
  if (i < 0) return Error{"node " + name_ + " has no chip " + chip_uuid};
  chips_[static_cast<size_t>(i)].health = health;
  ++version_;
  return Status::Ok();
}

ChipDemand NodeState::DemandOn(const SliceRequest& request, int i) const {
  return ResolveDemand(request, ledger(i).capacity().memory_mib);
}

ChipSet NodeState::FeasibleChips(const SliceRequest& request) const {
  ChipSet set = 0;
  for (int i = 0; i < chip_count(); ++i) {
    const Chip& c = chip(i);
    if (!c.healthy() || !request.Accepts(c)) continue;
    if (ledger(i).CanFit(DemandOn(request, i))) set |= ChipSet{1} << i;
  }
  return set;
}

HostResources NodeState::host_free() const {
  return {std::max<int64_t>(0, host_capacity_.cpu_milli - host_used_.cpu_milli),
          std::max<int64_t>(0, host_capacity_.memory_mib - host_used_.memory_mib)};
}

bool NodeState::HostFits(const HostResources& host) const {
  HostResources free = host_free();
  bool over = host_used_.cpu_milli > host_capacity_.cpu_milli ||
              host_used_.memory_mib > host_capacity_.memory_mib;
  return !over && host.cpu_milli <= free.cpu_milli && host.memory_mib <= free.memory_mib;
}

PodAssignment NodeState::MakeAssignment(const PodRequest& pod,
                                        const std::vector<ChipSet>& chips) const {
  PodAssignment a;
  a.pod_uid = pod.uid;
  a.node = name_;
  a.host = pod.host;
  for (size_t c = 0; c < pod.containers.size(); ++c) {
    ContainerAssignment ca;
    ca.container = pod.containers[c].name;
    ChipSet set = c < chips.size() ? chips[c] : 0;
    for (int i = 0; i < chip_count(); ++i) {
      if (!(set & (ChipSet{1} << i))) continue;
      ChipDemand d = DemandOn(pod.containers[c].slice, i);
      ca.grants.push_back({i, chip(i).uuid, d.memory_mib, d.cores, d.exclusive});
    }
    a.containers.push_back(std::move(ca));
  }
  return a;
}

namespace {

bool SameAssignment(const PodAssignment& a, const PodAssignment& b) {
  if (a.node != b.node || a.host.cpu_milli != b.host.cpu_milli ||
      a.host.memory_mib != b.host.memory_mib || a.containers.size() != b.containers.size()) {
    return false;
  }
  for (size_t c = 0; c < a.containers.size(); ++c) {
    const auto& x = a.containers[c];
    const auto& y = b.containers[c];
    if (x.container != y.container || x.grants.size() != y.grants.size()) return false;
    for (size_t g = 0; g < x.grants.size(); ++g) {
      const auto& p = x.grants[g];
      const auto& q = y.grants[g];
      if (p.chip_uuid != q.chip_uuid || p.memory_mib != q.memory_mib || p.cores != q.cores ||
          p.exclusive != q.exclusive) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

Status NodeState::Apply(const PodAssignment& assignment) {
  if (assignment.node != name_) {
    return Error{"assignment for node " + assignment.node + " applied to node " + name_};
  }
  if (auto it = pods_.find(assignment.pod_uid); it != pods_.end()) {
    if (SameAssignment(it->second, assignment)) return Status::Ok();
    return Error{"pod " + assignment.pod_uid + " already holds a different assignment on node " +
                 name_};
  }
  if (!HostFits(assignment.host)) {
    return Error{"node " + name_ + " lacks host resources for pod " + assignment.pod_uid};
  }
  // Resolve every grant to a chip index first, then commit; undo on a late failure so the node
  // never keeps half an assignment (two containers may share one chip).
  std::vector<std::pair<int, Owner>> taken;
  auto undo = [&] {
    for (auto& [i, owner] : taken) ledgers_[static_cast<size_t>(i)].Release(owner);
  };
  for (const auto& ca : assignment.containers) {
    Owner owner{assignment.pod_uid, ca.container};
    for (const auto& g : ca.grants) {
      int i = IndexOf(g.chip_uuid);
      if (i < 0) {
        undo();
        return Error{"node " + name_ + " has no chip " + g.chip_uuid};
      }
      Status s = ledgers_[static_cast<size_t>(i)].Allocate(
          owner, ChipDemand{g.memory_mib, g.cores, g.exclusive});
      if (!s.ok()) {
        undo();
        return Error{"node " + name_ + " chip " + std::to_string(i) + " (" + g.chip_uuid +
                     "): " + s.message()};
      }
      taken.emplace_back(i, owner);
    }
  }
  host_used_.cpu_milli += assignment.host.cpu_milli;
  host_used_.memory_mib += assignment.host.memory_mib;
  pods_.emplace(assignment.pod_uid, assignment);
  ++version_;
  return Status::Ok();
}

bool NodeState::Release(const std::string& pod_uid) {
  auto it = pods_.find(pod_uid);
  if (it == pods_.end()) return false;
  for (const auto& ca : it->second.containers) {
    Owner owner{pod_uid, ca.container};
    for (const auto& g : ca.grants) {
      int i = IndexOf(g.chip_uuid);
      if (i >= 0) ledgers_[static_cast<size_t>(i)].Release(owner);
    }
  }
  host_used_.cpu_milli -= it->second.host.cpu_milli;
  host_used_.memory_mib -= it->second.host.memory_mib;
  pods_.erase(it);
  ++version_;
  return true;
}

std::vector<Error> NodeState::Restore(const PodAssignment& assignment) {
  if (assignment.node != name_) {
    return {Error{"assignment for node " + assignment.node + " restored on node " + name_}};
  }
  if (auto it = pods_.find(assignment.pod_uid); it != pods_.end()) {
    if (SameAssignment(it->second, assignment)) return {};
    return {Error{"pod " + assignment.pod_uid + " already holds a different assignment on node " +
                  name_}};
  }
  std::vector<Error> left_out;
  std::vector<std::pair<int, Owner>> taken;
  for (const auto& ca : assignment.containers) {
    Owner owner{assignment.pod_uid, ca.container};
    for (const auto& g : ca.grants) {
      int i = IndexOf(g.chip_uuid);
      if (i < 0) {
        left_out.push_back(Error{"pod " + owner.ToString() + ": chip " + g.chip_uuid +
                                 " is no longer in node " + name_ +
                                 "'s inventory: its slice there (" + std::to_string(g.memory_mib) +
                                 " MiB, " + std::to_string(g.cores) + "% cores) is not counted"});
        continue;
      }
      Status s = ledgers_[static_cast<size_t>(i)].Restore(
          owner, ChipDemand{g.memory_mib, g.cores, g.exclusive});
      if (!s.ok()) {
        for (auto& [j, o] : taken) ledgers_[static_cast<size_t>(j)].Release(o);
        return {Error{"node " + name_ + " chip " + std::to_string(i) + " (" + g.chip_uuid +
                      "): " + s.message()}};
      }
      taken.emplace_back(i, owner);
    }
  }
  host_used_.cpu_milli += assignment.host.cpu_milli;
  host_used_.memory_mib += assignment.host.memory_mib;
  pods_.emplace(assignment.pod_uid, assignment);
  ++version_;
  return left_out;
}

std::vector<Error> NodeState::OverFull() const {
  std::vector<Error> over;
  for (int i = 0; i < chip_count(); ++i) {
    const ChipLedger& l = ledger(i);
    if (!l.over_full()) continue;
    over.push_back(Error{"chip " + std::to_string(i) + " (" + chip(i).uuid +
                         ") is over-full: " + std::to_string(l.used_memory_mib()) + " of " +
                         std::to_string(l.capacity().memory_limit_mib()) + " MiB, " +
                         std::to_string(l.used_cores()) + " of " +
                         std::to_string(l.capacity().cores) + "% cores, " +
                         std::to_string(l.slices().size()) +
                         " slice(s) held; no new slice fits there until pods on it end"});
  }
  if (host_used_.cpu_milli > host_capacity_.cpu_milli ||
      host_used_.memory_mib > host_capacity_.memory_mib) {
    over.push_back(Error{"host resources are over-full: " + std::to_string(host_used_.cpu_milli) +
                         " of " + std::to_string(host_capacity_.cpu_milli) + " mCPU, " +
                         std::to_string(host_used_.memory_mib) + " of " +
                         std::to_string(host_capacity_.memory_mib) + " MiB held"});
  }
  return over;
}

std::vector<Error> NodeState::Rebuild(const std::vector<PodAssignment>& placed,
                                      const std::vector<PodAssignment>& tentative) {
  for (auto& ledger : ledgers_) ledger = ChipLedger(ledger.capacity());
  host_used_ = {};
  pods_.clear();
  ++version_;
  std::vector<Error> errors;
  for (const auto& a : placed) {
    for (auto& e : Restore(a)) errors.push_back(std::move(e));
  }
  for (const auto& a : tentative) {
    Status s = Apply(a);
    if (!s.ok()) {
      errors.push_back(Error{"dropping the reservation of pod " + a.pod_uid + ": " + s.message()});
    }
  }
  for (auto& e : OverFull()) errors.push_back(std::move(e));
  return errors;
}

}  // namespace flexai::partition
