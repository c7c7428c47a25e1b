// The fake apiserver's storage: objects by resource type, one cluster-wide resourceVersion
// counter, and a bounded history of changes that watches replay (older versions give 410 Gone).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "resource_table.h"
#include "selectors.h"

namespace flexai::fake {

// An HTTP status and body (an object, a list or a metav1.Status).
struct Reply {
  int status = 200;
  Json body;
};

Reply StatusReply(int code, const std::string& reason, const std::string& message);

struct StoredEvent {
  int64_t rv = 0;
  const ResourceType* type = nullptr;
  std::string type_name;  // ADDED, MODIFIED, DELETED
  Json object;
};

class ObjectStore {
 public:
  explicit ObjectStore(size_t history_limit = 100000) : history_limit_(history_limit) {}

  Reply Create(const ResourceType& type, const std::string& ns, Json object);
  Reply Get(const ResourceType& type, const std::string& ns, const std::string& name) const;
  // `limit` > 0 pages the list: metadata.continue names where the next page starts (unlike the
  // real server, later pages show the current state, not the first page's snapshot).
  Reply List(const ResourceType& type, const std::string& ns, const Selector& labels,
             const Selector& fields, int64_t limit = 0,
             const std::string& continue_from = "") const;
  Reply Replace(const ResourceType& type, const std::string& ns, const std::string& name,
                Json object);
  // content_type: merge-patch, strategic-merge-patch (treated as merge) or json-patch.
  Reply Patch(const ResourceType& type, const std::string& ns, const std::string& name,
              const Json& patch, const std::string& content_type);
  Reply Delete(const ResourceType& type, const std::string& ns, const std::string& name);
  // POST pods/{name}/binding.
  Reply Bind(const std::string& ns, const std::string& name, const Json& binding);

  int64_t current_rv() const;
  // Events after `rv` for `type`; false when `rv` is older than the kept history (410).
  bool EventsSince(const ResourceType& type, int64_t rv, std::vector<StoredEvent>& out) const;
  // Current objects of `type` in `ns` (all when empty), for watches without a resourceVersion.
  std::vector<Json> Snapshot(const ResourceType& type, const std::string& ns) const;
  // Blocks until the store changes past `rv`, `timeout` passes or Shutdown().
  void WaitForChange(int64_t rv, std::chrono::milliseconds timeout) const;
  // Forgets the watch history: any watch from an older version now gets 410 Gone.
  void Compact();
  void Shutdown();

 private:
  using Key = std::string;  // "ns/name" or "name"
  Reply Store(const ResourceType& type, const Key& key, Json object, const char* event_type);
  void Record(const ResourceType& type, const char* event_type, const Json& object);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, std::map<Key, Json>> objects_;  // by ResourceType::key()
  int64_t rv_ = 1;
  int64_t oldest_rv_ = 1;  // watches from below this version get 410
  std::deque<StoredEvent> history_;
  size_t history_limit_;
  bool shutdown_ = false;
};

}  // namespace flexai::fake
