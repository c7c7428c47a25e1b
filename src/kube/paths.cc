#include "kube/paths.h"

#include <cctype>

namespace flexai::kube {

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string NodesPath() { return "/api/v1/nodes"; }
std::string NodePath(const std::string& name) { return NodesPath() + "/" + name; }
std::string PodsPath(const std::string& ns) {
  return ns.empty() ? "/api/v1/pods" : "/api/v1/namespaces/" + ns + "/pods";
}
std::string PodPath(const std::string& ns, const std::string& name) {
  return PodsPath(ns) + "/" + name;
}
std::string PodBindingPath(const std::string& ns, const std::string& name) {
  return PodPath(ns, name) + "/binding";
}
std::string PodDisruptionBudgetsPath() { return "/apis/policy/v1/poddisruptionbudgets"; }
std::string EventsPath(const std::string& ns) { return "/api/v1/namespaces/" + ns + "/events"; }
std::string LeasesPath(const std::string& ns) {
  return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases";
}
std::string LeasePath(const std::string& ns, const std::string& name) {
  return LeasesPath(ns) + "/" + name;
}

}  // namespace flexai::kube
