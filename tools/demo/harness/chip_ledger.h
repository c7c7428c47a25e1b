// Ground truth of what containers were actually handed (Allocate's answers), per chip. Every
// admission is checked against each chip's capacity: memory, 100% compute, the slice count, and
// whole-chip grants being alone. A violation is an over-allocation somewhere in the system.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace flexai::e2e {

struct Slice {
  std::string chip_uuid;
  int64_t memory_mib = 0;
  int cores = 0;
  bool exclusive = false;
};

class ChipLedger {
 public:
  ChipLedger(int64_t chip_memory_mib, int max_slices)
      : memory_(chip_memory_mib), max_slices_(max_slices) {}

  // Adds `owner`'s slices; returns the violations they cause (empty when all fit).
  std::vector<std::string> Add(const std::string& owner, const std::vector<Slice>& slices);
  void Remove(const std::string& owner);
  // Per chip: (memory held, cores held, slices) for the demo and reports.
  struct Usage {
    int64_t memory_mib = 0;
    int cores = 0;
    int slices = 0;
    bool exclusive = false;
  };
  std::map<std::string, Usage> Usages() const;

 private:
  const int64_t memory_;
  const int max_slices_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Slice>> by_owner_;
  std::map<std::string, std::vector<std::pair<std::string, Slice>>> by_chip_;
};

}  // namespace flexai::e2e
