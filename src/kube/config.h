// Where the Kubernetes API server is and how to authenticate to it: read from a kubeconfig file,
// from the in-cluster service-account mount, or given as a plain URL (tests, the fake apiserver).
#pragma once

#include <string>

#include "partition/result.h"

namespace flexai::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port" or "http://host:port"
  std::string ca_pem;  // CA bundle that signs the server certificate; empty = system CAs
  bool insecure_skip_verify = false;
  std::string tls_server_name;  // SNI / verification name override; empty = host of `server`
  std::string client_cert_pem;  // client-certificate auth (both or neither)
  std::string client_key_pem;
  std::string token;       // bearer token, fixed
  std::string token_file;  // bearer token re-read from this file (rotating SA tokens)
  std::string default_namespace = "default";

  bool uses_tls() const { return server.rfind("https://", 0) == 0; }
};

// Reads a kubeconfig (YAML). `context` empty = the file's current-context. Supports
// certificate-authority(-data), client-certificate(-data), client-key(-data), token, tokenFile,
// insecure-skip-tls-verify, tls-server-name and the context's namespace. Paths in the file are
// relative to the file's folder, as kubectl does.
Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// The service-account mount of a pod: KUBERNETES_SERVICE_HOST/PORT, the token file (re-read on
// every use, it rotates), ca.crt and namespace. `mount_dir` is for tests.
Result<ClusterConfig> InClusterConfig(
    const std::string& mount_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A server URL with no authentication (http://127.0.0.1:PORT of the fake apiserver).
ClusterConfig PlainServerConfig(const std::string& url);

}  // namespace flexai::kube
