#include "extender/extender_api.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <set>

#include "extender/fast_args.h"
#include "extender/pod_intent.h"
#include "kube/operations.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

struct ExtenderArgs {
  Json pod;
  std::vector<std::string> names;
  bool node_list = false;  // the caller sent Nodes (a NodeList), not NodeNames
  Json node_items;         // Nodes.items, in order
};

// Parses ExtenderArgs; error text when malformed.
std::string ParseArgs(std::string_view body, ExtenderArgs& args) {
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded()) return "request body is not valid JSON";
  if (!doc.is_object()) return "ExtenderArgs must be a JSON object";
  auto pod = doc.find("Pod");
  if (pod == doc.end() || !pod->is_object()) return "ExtenderArgs.Pod is missing or not an object";
  args.pod = std::move(*pod);
  auto names = doc.find("NodeNames");
  if (names != doc.end() && !names->is_null()) {
    if (!names->is_array()) return "ExtenderArgs.NodeNames is not an array";
    for (const auto& n : *names) {
      if (!n.is_string()) return "ExtenderArgs.NodeNames holds a non-string";
      args.names.push_back(n.get<std::string>());
    }
    return "";
  }
  auto nodes = doc.find("Nodes");
  if (nodes != doc.end() && !nodes->is_null()) {
    if (!nodes->is_object()) return "ExtenderArgs.Nodes is not a NodeList object";
    auto items = nodes->find("items");
    if (items != nodes->end() && !items->is_null()) {
      if (!items->is_array()) return "ExtenderArgs.Nodes.items is not an array";
      args.node_list = true;
      args.node_items = std::move(*items);
      for (const auto& item : args.node_items) {
        std::string name;
        if (item.is_object() && item.contains("metadata") && item["metadata"].is_object()) {
          name = kube::StringAt(item["metadata"], "name");
        }
        if (name.empty()) return "ExtenderArgs.Nodes.items holds a node without metadata.name";
        args.names.push_back(name);
      }
    }
  }
  return "";
}

HttpReply JsonReply(const Json& body) {
  // Replace invalid UTF-8 from the input (node names echo back) instead of throwing.
  return {200, body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json"};
}

}  // namespace

HttpReply BadRequest(const std::string& message) {
  return {400, Json{{"Error", message}}.dump(-1, ' ', false, Json::error_handler_t::replace),
          "application/json"};
}

ExtenderApi::ExtenderApi(const Scheduler& scheduler,
                         std::function<std::shared_ptr<const partition::SlicePolicy>()> policy,
                         BindFunction bind)
    : scheduler_(scheduler), policy_(std::move(policy)), bind_(std::move(bind)) {}

namespace {

// The usual NodeNames request takes the fast path (no JSON object model for thousands of
// names); anything else goes through the full parser. `fast` says which one answered.
std::string ParseAnyArgs(std::string_view body, ExtenderArgs& args, bool& fast) {
  fast = FastParseNodeNamesArgs(body, args.pod, args.names);
  if (fast) return {};
  args = ExtenderArgs();
  return ParseArgs(body, args);
}

}  // namespace

HttpReply ExtenderApi::Filter(std::string_view body) const {
  ExtenderArgs args;
  bool fast = false;
  if (std::string error = ParseAnyArgs(body, args, fast); !error.empty()) return BadRequest(error);
  PodIntent intent = ParsePodIntent(args.pod, *policy_());
  // Over its namespace's quota: those nodes are out before placement, and no eviction helps.
  std::map<std::string, std::string> over_quota;
  if (quota_) over_quota = quota_->Screen(intent, args.names);
  if (!over_quota.empty()) {
    std::erase_if(args.names, [&](const std::string& n) { return over_quota.count(n) > 0; });
  }
  FilterOutcome outcome =
      filter_ ? filter_(intent, args.names) : scheduler_.Filter(intent, args.names);
  outcome.unresolvable.merge(over_quota);
  if (intent.wants_chips) {
    spdlog::debug("filter {}: {} of {} nodes fit", intent.display_name(), outcome.passed.size(),
                  args.names.size());
  }
  if (!args.node_list) {
    // NodeNames in, NodeNames out: written directly (a DOM of thousands of names costs more
    // than the scheduling).
    std::string out = "{\"Nodes\":null,\"NodeNames\":[";
    out.reserve(body.size() / 2 + 256);
    for (size_t i = 0; i < outcome.passed.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, outcome.passed[i]);
    }
    out += ']';
    auto map = [&](const char* key, const std::map<std::string, std::string>& reasons) {
      out += ",\"";
      out += key;
      out += "\":{";
      bool first = true;
      for (const auto& [n, why] : reasons) {
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, n);
        out += ':';
        AppendJsonString(out, why);
      }
      out += '}';
    };
    map("FailedNodes", outcome.failed);
    map("FailedAndUnresolvableNodes", outcome.unresolvable);
    out += ",\"Error\":\"\"}";
    // Names from the slow path may hold any bytes: validate by round trip only then.
    if (!fast && Json::parse(out, nullptr, false).is_discarded()) {
      return BadRequest("NodeNames are not valid UTF-8");
    }
    return {200, std::move(out), "application/json"};
  }
  Json result = {{"FailedNodes", Json::object()},
                 {"FailedAndUnresolvableNodes", Json::object()},
                 {"Error", ""}};
  for (const auto& [n, why] : outcome.failed) result["FailedNodes"][n] = why;
  for (const auto& [n, why] : outcome.unresolvable) result["FailedAndUnresolvableNodes"][n] = why;
  Json items = Json::array();
  std::set<std::string> passed(outcome.passed.begin(), outcome.passed.end());
  for (auto& item : args.node_items) {
    if (passed.count(kube::NameOf(item))) items.push_back(std::move(item));
  }
  result["Nodes"] = {{"apiVersion", "v1"}, {"kind", "NodeList"}, {"items", items}};
  result["NodeNames"] = nullptr;
  return JsonReply(result);
}

HttpReply ExtenderApi::Prioritize(std::string_view body) const {
  ExtenderArgs args;
  bool fast = false;
  if (std::string error = ParseAnyArgs(body, args, fast); !error.empty()) return BadRequest(error);
  PodIntent intent = ParsePodIntent(args.pod, *policy_());
  std::string out = "[";
  out.reserve(args.names.size() * 32 + 2);
  bool first = true;
  for (const auto& s : scheduler_.Prioritize(intent, args.names)) {
    if (!first) out += ',';
    first = false;
    out += "{\"Host\":";
    AppendJsonString(out, s.host);
    out += ",\"Score\":" + std::to_string(s.score) + "}";
  }
  out += ']';
  if (!fast && Json::parse(out, nullptr, false).is_discarded()) {
    return BadRequest("NodeNames are not valid UTF-8");
  }
  return {200, std::move(out), "application/json"};
}

HttpReply ExtenderApi::Bind(std::string_view body) const {
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return BadRequest("ExtenderBindingArgs must be a JSON object");
  }
  BindArgs args;
  auto text = [&](const char* key, std::string& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  if (!text("PodName", args.pod_name) || args.pod_name.empty() ||
      !text("PodNamespace", args.pod_namespace) || !text("Node", args.node) || args.node.empty()) {
    return BadRequest("ExtenderBindingArgs needs string PodName, PodNamespace and Node");
  }
  text("PodUID", args.pod_uid);
  std::string error = bind_ ? bind_(args) : "binding is not available";
  return JsonReply(Json{{"Error", error}});
}

}  // namespace flexai::extender
