#include "kube/config.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace flexai::kube {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<std::string> DecodeBase64(const std::string& text, const std::string& what) {
  std::string compact;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') compact += c;
  }
  if (compact.size() % 4 != 0) return Error{what + " is not valid base64"};
  std::string out(compact.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(compact.data()),
                          static_cast<int>(compact.size()));
  if (n < 0) return Error{what + " is not valid base64"};
  size_t pad = 0;
  if (!compact.empty() && compact.back() == '=') ++pad;
  if (compact.size() > 1 && compact[compact.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// Either the inline `<key>-data` (base64) or the file named by `<key>`.
Result<std::string> DataOrFile(const YAML::Node& node, const std::string& key,
                               const std::filesystem::path& base, const std::string& where) {
  if (node[key + "-data"]) {
    return DecodeBase64(node[key + "-data"].as<std::string>(), where + "." + key + "-data");
  }
  if (node[key]) {
    std::filesystem::path p = node[key].as<std::string>();
    if (p.is_relative()) p = base / p;
    return ReadFile(p.string());
  }
  return std::string();
}

const YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item[inner];
  }
  return YAML::Node();
}

}  // namespace

Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text) return text.error();
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  try {
    YAML::Node root = YAML::Load(*text);
    std::string ctx_name = context;
    if (ctx_name.empty() && root["current-context"]) {
      ctx_name = root["current-context"].as<std::string>();
    }
    if (ctx_name.empty()) return Error{path + ": no context given and no current-context"};
    YAML::Node ctx = FindNamed(root["contexts"], ctx_name, "context");
    if (!ctx || !ctx.IsMap()) return Error{path + ": context \"" + ctx_name + "\" not found"};
    std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
    if (!cluster || !cluster.IsMap())
      return Error{path + ": cluster \"" + cluster_name + "\" not found"};

    ClusterConfig config;
    if (!cluster["server"]) return Error{path + ": cluster \"" + cluster_name + "\" has no server"};
    config.server = cluster["server"].as<std::string>();
    while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
    if (ctx["namespace"]) config.default_namespace = ctx["namespace"].as<std::string>();
    if (cluster["insecure-skip-tls-verify"]) {
      config.insecure_skip_verify = cluster["insecure-skip-tls-verify"].as<bool>();
    }
    if (cluster["tls-server-name"]) {
      config.tls_server_name = cluster["tls-server-name"].as<std::string>();
    }
    auto ca = DataOrFile(cluster, "certificate-authority", base, "cluster " + cluster_name);
    if (!ca) return Error{path + ": " + ca.error().message};
    config.ca_pem = *ca;

    YAML::Node user = FindNamed(root["users"], user_name, "user");
    if (user && user.IsMap()) {
      std::string where = "user " + user_name;
      auto cert = DataOrFile(user, "client-certificate", base, where);
      if (!cert) return Error{path + ": " + cert.error().message};
      auto key = DataOrFile(user, "client-key", base, where);
      if (!key) return Error{path + ": " + key.error().message};
      config.client_cert_pem = *cert;
      config.client_key_pem = *key;
      if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
        return Error{path + ": " + where + " has a client certificate or key but not both"};
      }
      if (user["token"]) config.token = user["token"].as<std::string>();
      if (user["tokenFile"]) {
        std::filesystem::path p = user["tokenFile"].as<std::string>();
        if (p.is_relative()) p = base / p;
        config.token_file = p.string();
      }
      if (user["exec"] || user["auth-provider"]) {
        return Error{path + ": " + where +
                     " uses exec/auth-provider credentials, which flexai does not run; use a "
                     "token or client certificate"};
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    return Error{path + ": " + e.what()};
  }
}

Result<ClusterConfig> InClusterConfig(const std::string& mount_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || !*host || !*port) {
    return Error{
        "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT unset (pass --kubeconfig)"};
  }
  ClusterConfig config;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 service address
  config.server = "https://" + h + ":" + port;
  config.token_file = mount_dir + "/token";
  if (!std::filesystem::exists(config.token_file)) {
    return Error{"in-cluster token " + config.token_file + " is missing"};
  }
  auto ca = ReadFile(mount_dir + "/ca.crt");
  if (!ca) return Error{"in-cluster CA: " + ca.error().message};
  config.ca_pem = *ca;
  if (auto ns = ReadFile(mount_dir + "/namespace"); ns && !ns->empty()) {
    config.default_namespace = *ns;
    while (!config.default_namespace.empty() &&
           (config.default_namespace.back() == '\n' || config.default_namespace.back() == ' ')) {
      config.default_namespace.pop_back();
    }
  }
  return config;
}

ClusterConfig PlainServerConfig(const std::string& url) {
  ClusterConfig config;
  config.server = url;
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  return config;
}

}  // namespace flexai::kube
