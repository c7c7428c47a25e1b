// What the metrics show of the Hi Scheduler's queue (QueueState::stats()).
#pragma once

#include <cstddef>
#include <cstdint>

namespace flexai::extender {

struct QueueStats {
  size_t pending_pods = 0;
  size_t gangs_waiting = 0;
  size_t gang_members_reserved = 0;
  int64_t reserved_chips = 0;  // chips held for gangs and the pending multi-chip pod
  int64_t reserved_memory_mib = 0;
  uint64_t unblocked_total = 0;  // pending pods a release made fit
};

}  // namespace flexai::extender
