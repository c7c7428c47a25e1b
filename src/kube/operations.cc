#include "kube/operations.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "kube/paths.h"
#include "kube/time_format.h"

namespace flexai::kube {
namespace {

std::string MetadataString(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(key);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string NameOf(const Json& object) { return MetadataString(object, "name"); }
std::string NamespaceOf(const Json& object) { return MetadataString(object, "namespace"); }
std::string UidOf(const Json& object) { return MetadataString(object, "uid"); }
std::string ResourceVersionOf(const Json& object) {
  return MetadataString(object, "resourceVersion");
}

int64_t ResourceVersionNumber(const Json& object) {
  int64_t v = 0;
  for (char c : ResourceVersionOf(object)) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string NodeNameOf(const Json& pod) { return StringAt(ObjectAt(pod, "spec"), "nodeName"); }

std::string AnnotationOf(const Json& object, const std::string& key) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto annotations = meta->find("annotations");
  if (annotations == meta->end() || !annotations->is_object()) return "";
  auto it = annotations->find(key);
  return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string StringAt(const Json& object, const char* key, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t IntAt(const Json& object, const char* key, int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

bool BoolAt(const Json& object, const char* key, bool fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

Json ObjectAt(const Json& object, const char* key) {
  if (!object.is_object()) return Json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : Json::object();
}

std::map<std::string, std::string> StringMapAt(const Json& object, const char* key) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_object()) return out;
  for (auto e = it->begin(); e != it->end(); ++e) {
    if (e->is_string()) out[e.key()] = e->get<std::string>();
  }
  return out;
}

PatchOutcome PatchWithRetry(KubeClient& client, const std::string& path, const PatchBuilder& build,
                            const Json* known, int max_attempts) {
  PatchOutcome outcome;
  Json current;
  bool have_current = false;
  if (known) {
    current = *known;
    have_current = true;
  }
  for (outcome.attempts = 1; outcome.attempts <= max_attempts; ++outcome.attempts) {
    if (!have_current) {
      outcome.response = client.Get(path);
      if (!outcome.response.ok()) return outcome;
      current = outcome.response.body;
    }
    have_current = false;  // any retry re-reads
    std::string why_not;
    std::optional<Json> patch = build(current, why_not);
    if (!patch) {
      outcome.declined = why_not.empty() ? "patch declined" : why_not;
      return outcome;
    }
    (*patch)["metadata"]["resourceVersion"] = ResourceVersionOf(current);
    outcome.response = client.MergePatch(path, *patch);
    if (!outcome.response.conflict()) return outcome;
    spdlog::debug("kube: PATCH {} conflicted (attempt {}), re-reading", path, outcome.attempts);
  }
  outcome.attempts = max_attempts;
  return outcome;
}

ApiResponse BindPod(KubeClient& client, const std::string& ns, const std::string& name,
                    const std::string& uid, const std::string& node) {
  Json binding = {{"apiVersion", "v1"},
                  {"kind", "Binding"},
                  {"metadata", {{"name", name}, {"namespace", ns}}},
                  {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  if (!uid.empty()) binding["metadata"]["uid"] = uid;
  return client.Post(PodBindingPath(ns, name), binding);
}

ApiResponse RecordEvent(KubeClient& client, const Json& involved, const EventRecord& event) {
  static std::atomic<uint64_t> sequence{0};
  auto now = std::chrono::system_clock::now();
  std::string ns = NamespaceOf(involved);
  if (ns.empty()) ns = "default";  // cluster-scoped objects (nodes) get their events here
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx%llx",
                static_cast<unsigned long long>(now.time_since_epoch().count()),
                static_cast<unsigned long long>(sequence++));
  std::string stamp = FormatTime(now);
  Json body = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", NameOf(involved) + suffix}, {"namespace", ns}}},
               {"involvedObject",
                {{"apiVersion", StringAt(involved, "apiVersion", "v1")},
                 {"kind", StringAt(involved, "kind", "Pod")},
                 {"name", NameOf(involved)},
                 {"namespace", NamespaceOf(involved)},
                 {"uid", UidOf(involved)},
                 {"resourceVersion", ResourceVersionOf(involved)}}},
               {"reason", event.reason},
               {"message", event.message},
               {"type", event.type},
               {"source", {{"component", event.component}}},
               {"firstTimestamp", stamp},
               {"lastTimestamp", stamp},
               {"count", 1}};
  ApiResponse r = client.Post(EventsPath(ns), body);
  if (!r.ok()) spdlog::warn("{}", r.Describe("posting event " + event.reason));
  return r;
}

}  // namespace flexai::kube
