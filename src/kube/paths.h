// REST paths of the objects flexai reads and writes, and query-string encoding.
#pragma once

#include <string>
#include <string_view>

namespace flexai::kube {

// Percent-encodes a query value (label and field selectors, resource versions).
std::string UrlEncode(std::string_view text);

std::string NodesPath();
std::string NodePath(const std::string& name);
// Empty `ns` = pods of every namespace.
std::string PodsPath(const std::string& ns = "");
std::string PodPath(const std::string& ns, const std::string& name);
std::string PodBindingPath(const std::string& ns, const std::string& name);
std::string EventsPath(const std::string& ns);
// policy/v1 PodDisruptionBudgets of every namespace.
std::string PodDisruptionBudgetsPath();
std::string LeasesPath(const std::string& ns);
std::string LeasePath(const std::string& ns, const std::string& name);

}  // namespace flexai::kube
