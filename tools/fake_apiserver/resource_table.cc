#include "resource_table.h"

#include <map>
#include <set>

namespace flexai::fake {

const std::vector<ResourceType>& ResourceTypes() {
  static const std::vector<ResourceType> kTypes = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {"status"}},
      {"", "v1", "nodes", "node", "Node", false, {"no"}, {"status"}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, {"binding", "status"}},
      {"", "v1", "events", "event", "Event", true, {"ev"}, {}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}},
      {"", "v1", "secrets", "secret", "Secret", true, {}, {}},
      {"", "v1", "services", "service", "Service", true, {"svc"}, {"status"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}, {}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, {"status"}},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, {"status"}},
      {"batch", "v1", "jobs", "job", "Job", true, {}, {"status"}},
      {"policy",
       "v1",
       "poddisruptionbudgets",
       "poddisruptionbudget",
       "PodDisruptionBudget",
       true,
       {"pdb"},
       {"status"}},
  };
  return kTypes;
}

const ResourceType* FindResource(const std::string& group, const std::string& version,
                                 const std::string& plural) {
  for (const auto& t : ResourceTypes()) {
    if (t.group == group && t.version == version && t.plural == plural) return &t;
  }
  return nullptr;
}

Json CoreApiVersions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

Json ApiGroupList() {
  std::map<std::string, std::set<std::string>> groups;
  for (const auto& t : ResourceTypes()) {
    if (!t.group.empty()) groups[t.group].insert(t.version);
  }
  Json list = {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", Json::array()}};
  for (const auto& [name, versions] : groups) {
    Json vs = Json::array();
    for (const auto& v : versions) {
      vs.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
    }
    list["groups"].push_back({{"name", name}, {"versions", vs}, {"preferredVersion", vs[0]}});
  }
  return list;
}

Json ApiResourceList(const std::string& group, const std::string& version) {
  Json resources = Json::array();
  static const std::vector<std::string> kVerbs = {"create", "delete", "get",  "list",
                                                  "patch",  "update", "watch"};
  for (const auto& t : ResourceTypes()) {
    if (t.group != group || t.version != version) continue;
    resources.push_back({{"name", t.plural},
                         {"singularName", t.singular},
                         {"namespaced", t.namespaced},
                         {"kind", t.kind},
                         {"verbs", kVerbs},
                         {"shortNames", t.short_names}});
    for (const auto& sub : t.subresources) {
      resources.push_back(
          {{"name", t.plural + "/" + sub},
           {"singularName", ""},
           {"namespaced", t.namespaced},
           {"kind", sub == "binding" ? "Binding" : t.kind},
           {"verbs", sub == "binding" ? Json{"create"} : Json{"get", "patch", "update"}}});
    }
  }
  if (resources.empty()) return nullptr;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

Json VersionInfo() {
  return {{"major", "1"},
          {"minor", "29"},
          {"gitVersion", "v1.29.0-flexai-fake"},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2024-01-01T00:00:00Z"},
          {"goVersion", "go1.21"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

}  // namespace flexai::fake
