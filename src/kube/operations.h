// Higher-level API operations built on KubeClient: conditional merge patches with conflict retry,
// pod binding, Events, and small accessors for object metadata.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "kube/client.h"

namespace flexai::kube {

// Metadata accessors; empty string when absent.
std::string NameOf(const Json& object);
std::string NamespaceOf(const Json& object);
std::string UidOf(const Json& object);
std::string ResourceVersionOf(const Json& object);
// resourceVersion as a number, to order versions of one object; 0 when it is not decimal digits
// (resourceVersion is opaque by contract: then no ordering is known).
int64_t ResourceVersionNumber(const Json& object);
// spec.nodeName of a pod ("" while unbound).
std::string NodeNameOf(const Json& pod);
std::string AnnotationOf(const Json& object, const std::string& key);

// Typed field reads that never throw: the fallback when `object` is not an object, lacks `key`,
// or holds another type there (input from the network may be anything).
std::string StringAt(const Json& object, const char* key, const std::string& fallback = "");
int64_t IntAt(const Json& object, const char* key, int64_t fallback = 0);
bool BoolAt(const Json& object, const char* key, bool fallback = false);
// The object at `key`, or an empty object.
Json ObjectAt(const Json& object, const char* key);
// String pairs of the object at `key` (e.g. metadata.labels, a selector's matchLabels); other
// value types are skipped.
std::map<std::string, std::string> StringMapAt(const Json& object, const char* key);

// Builds the merge patch for `current` (the object as the server has it now), or nullopt to give
// up (the object no longer qualifies). An error string in `why_not` is reported back.
using PatchBuilder = std::function<std::optional<Json>(const Json& current, std::string& why_not)>;

struct PatchOutcome {
  ApiResponse response;  // the final PATCH (or GET) reply; body is the updated object on success
  int attempts = 0;
  std::string declined;  // set when the builder gave up
  bool ok() const { return response.ok() && declined.empty(); }
};

// Applies `build(current)` as a merge patch made conditional on current's resourceVersion; on 409
// it re-reads the object and asks `build` again, up to `max_attempts` times. `known` (optional)
// is a recent copy of the object that saves the first GET.
PatchOutcome PatchWithRetry(KubeClient& client, const std::string& path, const PatchBuilder& build,
                            const Json* known = nullptr, int max_attempts = 5);

// POST pods/{name}/binding: assigns the pod to `node` (what kube-scheduler's bind does).
ApiResponse BindPod(KubeClient& client, const std::string& ns, const std::string& name,
                    const std::string& uid, const std::string& node);

// A core/v1 Event about `involved` (a pod or node object), e.g. reason "FailedBinding".
struct EventRecord {
  std::string type = "Normal";  // or "Warning"
  std::string reason;
  std::string message;
  std::string component = "flexai-hi-scheduler";
};
ApiResponse RecordEvent(KubeClient& client, const Json& involved, const EventRecord& event);

}  // namespace flexai::kube
