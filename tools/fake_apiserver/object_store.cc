#include "object_store.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <random>

#include "kube/time_format.h"

namespace flexai::fake {
namespace {

std::string KeyOf(const ResourceType& type, const std::string& ns, const std::string& name) {
  return type.namespaced ? ns + "/" + name : name;
}

std::string NewUid() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard lock(mu);
  char buf[40];
  uint64_t a = rng(), b = rng();
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a >> 16) & 0xffff, static_cast<unsigned>(a) & 0xfff,
                static_cast<unsigned>(b >> 48) & 0xfff,
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string RandomSuffix() {
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}());
  static const char* kChars = "bcdfghjklmnpqrstvwxz2456789";
  std::lock_guard lock(mu);
  std::string s;
  for (int i = 0; i < 5; ++i) s += kChars[rng() % 27];
  return s;
}

std::string MetaString(const Json& object, const char* key) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) return "";
  const Json& m = object["metadata"];
  return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : "";
}

std::string NotFoundMessage(const ResourceType& type, const std::string& name) {
  return type.plural + (type.group.empty() ? "" : "." + type.group) + " \"" + name + "\" not found";
}

}  // namespace

Reply StatusReply(int code, const std::string& reason, const std::string& message) {
  return {code,
          {{"kind", "Status"},
           {"apiVersion", "v1"},
           {"metadata", Json::object()},
           {"status", code < 400 ? "Success" : "Failure"},
           {"message", message},
           {"reason", reason},
           {"code", code}}};
}

void ObjectStore::Record(const ResourceType& type, const char* event_type, const Json& object) {
  history_.push_back({rv_, &type, event_type, object});
  while (history_.size() > history_limit_) {
    oldest_rv_ = history_.front().rv;
    history_.pop_front();
  }
  changed_.notify_all();
}

Reply ObjectStore::Store(const ResourceType& type, const Key& key, Json object,
                         const char* event_type) {
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  if (!object.contains("kind")) object["kind"] = type.kind;
  if (!object.contains("apiVersion")) object["apiVersion"] = type.group_version();
  objects_[type.key()][key] = object;
  Record(type, event_type, object);
  return {std::string(event_type) == "ADDED" ? 201 : 200, object};
}

Reply ObjectStore::Create(const ResourceType& type, const std::string& ns, Json object) {
  if (!object.is_object()) return StatusReply(400, "BadRequest", "body is not a JSON object");
  if (object.contains("kind") && object["kind"] != type.kind) {
    return StatusReply(400, "BadRequest",
                       "kind " + object["kind"].dump() + " posted to " + type.plural);
  }
  Json& meta = object["metadata"];
  if (!meta.is_object()) return StatusReply(400, "BadRequest", "metadata is not an object");
  std::string name = MetaString(object, "name");
  if (name.empty()) {
    std::string prefix = MetaString(object, "generateName");
    if (prefix.empty()) {
      return StatusReply(422, "Invalid", "metadata.name or generateName is required");
    }
    name = prefix + RandomSuffix();
    meta["name"] = name;
  }
  if (type.namespaced) {
    std::string body_ns = MetaString(object, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      return StatusReply(400, "BadRequest",
                         "the namespace of the object (" + body_ns +
                             ") does not match the namespace on the request (" + ns + ")");
    }
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::lock_guard lock(mu_);
  Key key = KeyOf(type, ns, name);
  if (objects_[type.key()].count(key)) {
    return StatusReply(409, "AlreadyExists", type.plural + " \"" + name + "\" already exists");
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = kube::FormatTime(std::chrono::system_clock::now());
  meta.erase("resourceVersion");
  if (type.kind == "Pod" && !object["status"].contains("phase")) {
    object["status"]["phase"] = "Pending";
  }
  if (type.kind == "Namespace" && !object["status"].contains("phase")) {
    object["status"]["phase"] = "Active";
  }
  return Store(type, key, std::move(object), "ADDED");
}

Reply ObjectStore::Get(const ResourceType& type, const std::string& ns,
                       const std::string& name) const {
  std::lock_guard lock(mu_);
  auto bucket = objects_.find(type.key());
  if (bucket != objects_.end()) {
    auto it = bucket->second.find(KeyOf(type, ns, name));
    if (it != bucket->second.end()) return {200, it->second};
  }
  return StatusReply(404, "NotFound", NotFoundMessage(type, name));
}

Reply ObjectStore::List(const ResourceType& type, const std::string& ns, const Selector& labels,
                        const Selector& fields, int64_t limit,
                        const std::string& continue_from) const {
  Json items = Json::array();
  std::string next;
  std::lock_guard lock(mu_);
  if (auto bucket = objects_.find(type.key()); bucket != objects_.end()) {
    auto it =
        continue_from.empty() ? bucket->second.begin() : bucket->second.upper_bound(continue_from);
    for (; it != bucket->second.end(); ++it) {
      const auto& [key, object] = *it;
      if (!ns.empty() && MetaString(object, "namespace") != ns) continue;
      if (!MatchesLabels(labels, object) || !MatchesFields(fields, object)) continue;
      if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
        next = std::prev(it)->first;
        break;
      }
      items.push_back(object);
    }
  }
  Json meta = {{"resourceVersion", std::to_string(rv_)}};
  if (!next.empty()) meta["continue"] = next;
  return {200,
          {{"kind", type.kind + "List"},
           {"apiVersion", type.group_version()},
           {"metadata", meta},
           {"items", std::move(items)}}};
}

Reply ObjectStore::Replace(const ResourceType& type, const std::string& ns, const std::string& name,
                           Json object) {
  if (!object.is_object()) return StatusReply(400, "BadRequest", "body is not a JSON object");
  std::lock_guard lock(mu_);
  auto& bucket = objects_[type.key()];
  auto it = bucket.find(KeyOf(type, ns, name));
  if (it == bucket.end()) return StatusReply(404, "NotFound", NotFoundMessage(type, name));
  std::string want = MetaString(object, "resourceVersion");
  std::string have = MetaString(it->second, "resourceVersion");
  if (!want.empty() && want != have) {
    return StatusReply(409, "Conflict",
                       "Operation cannot be fulfilled on " + type.plural + " \"" + name +
                           "\": the object has been modified; please apply your changes to the "
                           "latest version and try again");
  }
  Json& meta = object["metadata"];
  meta["name"] = name;
  if (type.namespaced) meta["namespace"] = ns;
  meta["uid"] = it->second["metadata"]["uid"];
  meta["creationTimestamp"] = it->second["metadata"]["creationTimestamp"];
  return Store(type, it->first, std::move(object), "MODIFIED");
}

Reply ObjectStore::Patch(const ResourceType& type, const std::string& ns, const std::string& name,
                         const Json& patch, const std::string& content_type) {
  std::lock_guard lock(mu_);
  auto& bucket = objects_[type.key()];
  auto it = bucket.find(KeyOf(type, ns, name));
  if (it == bucket.end()) return StatusReply(404, "NotFound", NotFoundMessage(type, name));
  Json updated = it->second;
  if (content_type.find("json-patch+json") != std::string::npos) {
    if (!patch.is_array()) return StatusReply(400, "BadRequest", "a JSON patch must be an array");
    try {
      updated = updated.patch(patch);
    } catch (const Json::exception& e) {
      return StatusReply(422, "Invalid", std::string("JSON patch failed: ") + e.what());
    }
  } else {
    if (!patch.is_object())
      return StatusReply(400, "BadRequest", "a merge patch must be an object");
    std::string want = MetaString(patch, "resourceVersion");
    if (!want.empty() && want != MetaString(it->second, "resourceVersion")) {
      return StatusReply(409, "Conflict",
                         "Operation cannot be fulfilled on " + type.plural + " \"" + name +
                             "\": the object has been modified; please apply your changes to "
                             "the latest version and try again");
    }
    updated.merge_patch(patch);
  }
  if (!updated.is_object() || !updated["metadata"].is_object()) {
    return StatusReply(422, "Invalid", "patch removed metadata");
  }
  // Identity fields cannot change.
  for (const char* key : {"name", "namespace", "uid", "creationTimestamp"}) {
    if (it->second["metadata"].contains(key))
      updated["metadata"][key] = it->second["metadata"][key];
  }
  return Store(type, it->first, std::move(updated), "MODIFIED");
}

Reply ObjectStore::Delete(const ResourceType& type, const std::string& ns,
                          const std::string& name) {
  std::lock_guard lock(mu_);
  auto& bucket = objects_[type.key()];
  auto it = bucket.find(KeyOf(type, ns, name));
  if (it == bucket.end()) return StatusReply(404, "NotFound", NotFoundMessage(type, name));
  Json object = std::move(it->second);
  bucket.erase(it);
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  Record(type, "DELETED", object);
  return {200, object};
}

Reply ObjectStore::Bind(const std::string& ns, const std::string& name, const Json& binding) {
  const ResourceType* pods = FindResource("", "v1", "pods");
  std::lock_guard lock(mu_);
  auto& bucket = objects_[pods->key()];
  auto it = bucket.find(KeyOf(*pods, ns, name));
  if (it == bucket.end()) return StatusReply(404, "NotFound", NotFoundMessage(*pods, name));
  if (!binding.is_object() || !binding.contains("target") || !binding["target"].is_object() ||
      !binding["target"].contains("name") || !binding["target"]["name"].is_string()) {
    return StatusReply(400, "BadRequest", "binding has no target.name");
  }
  std::string uid = MetaString(binding, "uid");
  if (!uid.empty() && uid != MetaString(it->second, "uid")) {
    return StatusReply(409, "Conflict",
                       "Operation cannot be fulfilled on pods/binding \"" + name +
                           "\": the UID in the precondition (" + uid +
                           ") does not match the UID in record");
  }
  Json pod = it->second;
  std::string node = binding["target"]["name"].get<std::string>();
  if (pod["spec"].contains("nodeName") && pod["spec"]["nodeName"].is_string() &&
      !pod["spec"]["nodeName"].get<std::string>().empty()) {
    return StatusReply(409, "Conflict",
                       "Operation cannot be fulfilled on pods/binding \"" + name + "\": pod " +
                           name + " is already assigned to node \"" +
                           pod["spec"]["nodeName"].get<std::string>() + "\"");
  }
  pod["spec"]["nodeName"] = node;
  pod["status"]["conditions"] =
      Json::array({{{"type", "PodScheduled"},
                    {"status", "True"},
                    {"lastTransitionTime", kube::FormatTime(std::chrono::system_clock::now())}}});
  Store(*pods, it->first, std::move(pod), "MODIFIED");
  return StatusReply(201, "", "");
}

int64_t ObjectStore::current_rv() const {
  std::lock_guard lock(mu_);
  return rv_;
}

bool ObjectStore::EventsSince(const ResourceType& type, int64_t rv,
                              std::vector<StoredEvent>& out) const {
  std::lock_guard lock(mu_);
  if (rv < oldest_rv_) return false;
  // History is ordered by rv: skip to the first newer event.
  auto it = std::lower_bound(history_.begin(), history_.end(), rv + 1,
                             [](const StoredEvent& e, int64_t v) { return e.rv < v; });
  for (; it != history_.end(); ++it) {
    if (it->type == &type) out.push_back(*it);
  }
  return true;
}

std::vector<Json> ObjectStore::Snapshot(const ResourceType& type, const std::string& ns) const {
  std::vector<Json> out;
  std::lock_guard lock(mu_);
  if (auto bucket = objects_.find(type.key()); bucket != objects_.end()) {
    for (const auto& [key, object] : bucket->second) {
      if (ns.empty() || MetaString(object, "namespace") == ns) out.push_back(object);
    }
  }
  return out;
}

void ObjectStore::WaitForChange(int64_t rv, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return shutdown_ || rv_ > rv; });
}

void ObjectStore::Compact() {
  std::lock_guard lock(mu_);
  history_.clear();
  oldest_rv_ = rv_;  // a watch from the current version still works
}

void ObjectStore::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  changed_.notify_all();
}

}  // namespace flexai::fake
