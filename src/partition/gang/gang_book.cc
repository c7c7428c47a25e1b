#include "partition/gang/gang_book.h"

#include <algorithm>

namespace flexai::partition {

GangProgress GangBook::ProgressLocked(const Gang& gang) const {
  GangProgress p;
  p.size = gang.spec.size;
  p.held = static_cast<int>(gang.members.size());
  return p;
}

Result<GangProgress> GangBook::Reserve(const GangSpec& spec, const GangMember& member) {
  std::lock_guard lock(mu_);
  if (auto known = gang_of_.find(member.uid);
      known != gang_of_.end() && known->second != spec.key) {
    return Error{"pod " + member.ns + "/" + member.name + " is already a member of gang " +
                 known->second};
  }
  auto it = gangs_.find(spec.key);
  if (it != gangs_.end()) {
    const Gang& gang = it->second;
    if (gang.spec.size != spec.size) {
      return Error{"gang " + spec.key + ": pod " + member.ns + "/" + member.name + " says size " +
                   std::to_string(spec.size) + ", its other members say " +
                   std::to_string(gang.spec.size)};
    }
    if (!gang.members.count(member.uid) &&
        static_cast<int>(gang.members.size()) >= gang.spec.size) {
      return Error{"gang " + spec.key + " already has all " + std::to_string(gang.spec.size) +
                   " members; pod " + member.ns + "/" + member.name + " is one too many"};
    }
  }
  Gang& gang = gangs_[spec.key];
  if (gang.members.empty()) gang.spec = spec;
  bool was_complete = static_cast<int>(gang.members.size()) >= gang.spec.size;
  GangMember& entry = gang.members[member.uid];
  bool bound = entry.bound || member.bound;
  entry = member;
  entry.bound = bound;
  gang_of_[member.uid] = spec.key;
  GangProgress p = ProgressLocked(gang);
  p.completed_now = !was_complete && p.complete();
  return p;
}

void GangBook::MarkBound(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto key = gang_of_.find(uid);
  if (key == gang_of_.end()) return;
  gangs_.at(key->second).members.at(uid).bound = true;
}

void GangBook::Forget(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto key = gang_of_.find(uid);
  if (key == gang_of_.end()) return;
  auto gang = gangs_.find(key->second);
  gang->second.members.erase(uid);
  if (gang->second.members.empty()) gangs_.erase(gang);
  gang_of_.erase(key);
}

std::optional<GangMember> GangBook::Member(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto key = gang_of_.find(uid);
  if (key == gang_of_.end()) return std::nullopt;
  return gangs_.at(key->second).members.at(uid);
}

std::string GangBook::GangOf(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto key = gang_of_.find(uid);
  return key == gang_of_.end() ? "" : key->second;
}

std::vector<GangMember> GangBook::Members(const std::string& key) const {
  std::lock_guard lock(mu_);
  std::vector<GangMember> out;
  if (auto it = gangs_.find(key); it != gangs_.end()) {
    for (const auto& [uid, m] : it->second.members) out.push_back(m);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const GangMember& a, const GangMember& b) { return a.since < b.since; });
  return out;
}

GangProgress GangBook::Progress(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = gangs_.find(key);
  return it == gangs_.end() ? GangProgress{} : ProgressLocked(it->second);
}

std::optional<GangSpec> GangBook::Spec(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return std::nullopt;
  return it->second.spec;
}

std::vector<GangMember> GangBook::UnboundMembers() const {
  std::lock_guard lock(mu_);
  std::vector<GangMember> out;
  for (const auto& [key, gang] : gangs_) {
    for (const auto& [uid, m] : gang.members) {
      if (!m.bound) out.push_back(m);
    }
  }
  return out;
}

std::vector<GangMember> GangBook::AllMembers() const {
  std::lock_guard lock(mu_);
  std::vector<GangMember> out;
  for (const auto& [key, gang] : gangs_) {
    for (const auto& [uid, m] : gang.members) out.push_back(m);
  }
  return out;
}

namespace {

template <typename Members>
bool AnyBound(const Members& members) {
  return std::any_of(members.begin(), members.end(), [](const auto& m) { return m.second.bound; });
}

}  // namespace

std::vector<std::string> GangBook::Expired(GangClock::time_point now) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, gang] : gangs_) {
    if (ProgressLocked(gang).complete() || AnyBound(gang.members)) continue;
    for (const auto& [uid, m] : gang.members) {
      if (!m.bound && now - m.since >= gang.spec.timeout) {
        out.push_back(key);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> GangBook::Committed() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, gang] : gangs_) {
    if (!ProgressLocked(gang).complete()) continue;
    if (std::any_of(gang.members.begin(), gang.members.end(),
                    [](const auto& m) { return !m.second.bound; })) {
      out.push_back(key);
    }
  }
  return out;
}

GangBook::Totals GangBook::totals() const {
  std::lock_guard lock(mu_);
  Totals t;
  for (const auto& [key, gang] : gangs_) {
    size_t unbound = 0;
    for (const auto& [uid, m] : gang.members) unbound += m.bound ? 0 : 1;
    t.members_reserved += unbound;
    if (unbound) ++t.gangs_waiting;
  }
  return t;
}

}  // namespace flexai::partition
