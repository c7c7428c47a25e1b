// The API resources the fake apiserver serves, and the discovery documents kubectl reads to find
// them (/api, /apis, /api/v1, /apis/<group>/<version>).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flexai::fake {

using Json = nlohmann::json;

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;  // "pods"
  std::string singular;
  std::string kind;  // "Pod"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> subresources;  // "binding", "status"

  std::string group_version() const { return group.empty() ? version : group + "/" + version; }
  std::string key() const { return group + "/" + plural; }
};

const std::vector<ResourceType>& ResourceTypes();
const ResourceType* FindResource(const std::string& group, const std::string& version,
                                 const std::string& plural);

Json CoreApiVersions(const std::string& server_address);
Json ApiGroupList();
// nullptr-equivalent (null Json) when the group/version is not served.
Json ApiResourceList(const std::string& group, const std::string& version);
Json VersionInfo();

}  // namespace flexai::fake
