#include "harness/chip_ledger.h"

namespace flexai::e2e {

std::vector<std::string> ChipLedger::Add(const std::string& owner,
                                         const std::vector<Slice>& slices) {
  std::lock_guard lock(mu_);
  std::vector<std::string> problems;
  if (by_owner_.count(owner)) problems.push_back(owner + " was admitted twice");
  for (const auto& s : slices) {
    by_owner_[owner].push_back(s);
    by_chip_[s.chip_uuid].push_back({owner, s});
  }
  for (const auto& s : slices) {
    const auto& held = by_chip_[s.chip_uuid];
    int64_t memory = 0;
    int cores = 0;
    bool exclusive = false;
    std::string owners;
    for (const auto& [who, slice] : held) {
      memory += slice.memory_mib;
      cores += slice.cores;
      exclusive = exclusive || slice.exclusive;
      owners += " " + who;
    }
    std::string where =
        "chip " + s.chip_uuid + " after admitting " + owner + " (holders:" + owners + "): ";
    if (memory > memory_) {
      problems.push_back(where + std::to_string(memory) + " MiB > " + std::to_string(memory_));
    }
    if (cores > 100) problems.push_back(where + std::to_string(cores) + "% compute > 100%");
    if (static_cast<int>(held.size()) > max_slices_) {
      problems.push_back(where + std::to_string(held.size()) + " slices > " +
                         std::to_string(max_slices_));
    }
    if (exclusive && held.size() > 1) problems.push_back(where + "a whole-chip grant is shared");
  }
  return problems;
}

void ChipLedger::Remove(const std::string& owner) {
  std::lock_guard lock(mu_);
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  for (const auto& s : it->second) {
    auto& held = by_chip_[s.chip_uuid];
    std::erase_if(held, [&](const auto& entry) { return entry.first == owner; });
  }
  by_owner_.erase(it);
}

std::map<std::string, ChipLedger::Usage> ChipLedger::Usages() const {
  std::lock_guard lock(mu_);
  std::map<std::string, Usage> out;
  for (const auto& [chip, held] : by_chip_) {
    Usage u;
    for (const auto& [who, s] : held) {
      u.memory_mib += s.memory_mib;
      u.cores += s.cores;
      u.exclusive = u.exclusive || s.exclusive;
      ++u.slices;
    }
    out[chip] = u;
  }
  return out;
}

}  // namespace flexai::e2e
