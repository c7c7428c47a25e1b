// A fast path for the common ExtenderArgs shape kube-scheduler sends with nodeCacheCapable:
// {"Pod": {...}, "Nodes": null, "NodeNames": ["n1", ...]}. Thousands of node names through a
// JSON DOM cost more than scheduling them, so the top level is scanned by hand: the Pod is parsed
// as JSON, the names are read straight into strings. Anything unusual (escapes, non-ASCII names,
// a Nodes list, duplicate keys, malformed text) returns false and the caller uses the full parser,
// which also produces the error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace flexai::extender {

bool FastParseNodeNamesArgs(std::string_view body, nlohmann::json& pod,
                            std::vector<std::string>& names);

// Appends `text` as a JSON string literal (quotes, escapes for '"', '\\' and control bytes).
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace flexai::extender
