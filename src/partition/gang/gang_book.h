// Bookkeeping of gangs (all-or-nothing groups of pods): which members hold a reservation, on
// which node, since when, and which are bound. Knows nothing of the API server: the binder records
// here what it reserved or bound, the pod watch restores it after a restart. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "partition/gang/gang_spec.h"
#include "partition/result.h"

namespace flexai::partition {

using GangClock = std::chrono::system_clock;

struct GangMember {
  std::string uid, ns, name;
  std::string node;               // where its chips are reserved
  GangClock::time_point since{};  // when the reservation was made
  bool bound = false;             // its pods/binding exists
};

struct GangProgress {
  int held = 0;  // members holding a reservation or bound
  int size = 0;
  bool completed_now = false;  // this call brought `held` to `size`
  bool complete() const { return held >= size; }
};

class GangBook {
 public:
  // Records that `member` holds a reservation for `spec`'s gang. A member already known (retried
  // bind, or restored from the cluster) is counted once; its node and time are updated. Refused,
  // leaving the book unchanged, when the gang already has `size` other members or the member
  // disagrees with the gang about its size.
  Result<GangProgress> Reserve(const GangSpec& spec, const GangMember& member);
  void MarkBound(const std::string& uid);
  // The member's reservation is gone (released, pod deleted or finished).
  void Forget(const std::string& uid);

  std::optional<GangMember> Member(const std::string& uid) const;
  // The gang a member belongs to ("" when unknown).
  std::string GangOf(const std::string& uid) const;
  std::vector<GangMember> Members(const std::string& key) const;  // oldest reservation first
  GangProgress Progress(const std::string& key) const;
  std::optional<GangSpec> Spec(const std::string& key) const;
  // Every member holding chips without being bound, across gangs.
  std::vector<GangMember> UnboundMembers() const;
  // Every member, bound or not, across gangs.
  std::vector<GangMember> AllMembers() const;

  // Gangs still gathering (incomplete, no member bound) with a member whose reservation is older
  // than the gang's timeout: they are to be released, so nothing is held forever. A gang past its
  // commit point (complete, or partly bound) is never released: see Committed.
  std::vector<std::string> Expired(GangClock::time_point now) const;
  // Complete gangs with a member not bound yet (its binding failed): the binder retries them.
  std::vector<std::string> Committed() const;

  struct Totals {
    size_t gangs_waiting = 0;     // gangs with at least one unbound member holding chips
    size_t members_reserved = 0;  // unbound members holding chips
  };
  Totals totals() const;

 private:
  struct Gang {
    GangSpec spec;
    std::map<std::string, GangMember> members;  // by uid
  };
  GangProgress ProgressLocked(const Gang& gang) const;

  mutable std::mutex mu_;
  std::map<std::string, Gang> gangs_;           // by key
  std::map<std::string, std::string> gang_of_;  // member uid -> gang key
};

}  // namespace flexai::partition
