// hi-scheduler: the flexai kube-scheduler extender (filter, prioritize, bind), its admission
// webhook and metrics. Flags are documented in docs/hi-scheduler.md.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "extender/service.h"
#include "kube/config.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

std::string DefaultLeaseNamespace() {
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (in >> ns && !ns.empty()) return ns;
  return "kube-system";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hi-scheduler: flexai's kube-scheduler extender, admission webhook and metrics"};
  flexai::extender::ServiceOptions options;
  std::string kubeconfig, log_level = "info";
  options.lease_namespace = "";
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (omit inside a cluster)");
  app.add_option("--listen", options.listen, "HOST:PORT for the extender endpoints")
      ->capture_default_str();
  app.add_option("--policy", options.policy_file,
                 "slice policy YAML (the flexai-policy ConfigMap); default: built-in defaults");
  app.add_flag("--leader-elect", options.leader_elect,
               "take part in leader election; followers answer 503 on /bind");
  app.add_option("--lease-name", options.lease_name, "Lease used for leader election")
      ->capture_default_str();
  auto* follow = app.add_option(
      "--follow-lease", options.follow_lease,
      "lead while this Lease (kube-scheduler's own, in --lease-namespace) is held by "
      "--follow-partner: for the sidecar of kube-scheduler, so both leaders share one pod");
  app.add_option("--follow-partner", options.follow_partner,
                 "holder identity (or its prefix before '_') that makes this process leader; "
                 "default: the POD_NAME env")
      ->needs(follow);
  follow->excludes("--leader-elect");
  app.add_option("--lease-namespace", options.lease_namespace,
                 "namespace of the Lease (default: the service account's, else kube-system)");
  app.add_option("--tls-cert", options.tls_cert, "serve HTTPS with this certificate (PEM)");
  app.add_option("--tls-key", options.tls_key, "private key of --tls-cert (PEM)");
  app.add_option("--webhook-listen", options.webhook_listen,
                 "HOST:PORT of a second (TLS) listener serving only /mutate and /healthz");
  app.add_option("--node-stale-seconds", options.node_stale_seconds,
                 "a node whose device plugin heartbeat is older is not used")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--allocating-window-seconds", options.allocating_window_seconds,
                 "refuse to bind a pod next to a same-chip-count pod still allocating on the node "
                 "for this long (keeps the device plugin's match unambiguous; 0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--gang-timeout-seconds", options.gang_timeout_seconds,
                 "release a gang's reserved chips when its members have not all arrived this long "
                 "after the first (flexai.io/gang-timeout-seconds overrides it per gang)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--hold-seconds", options.hold_seconds,
                 "longest time the oldest pending multi-chip pod may keep small pods off the node "
                 "closest to fitting it (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--workload-refresh-seconds", options.workload_refresh_seconds,
                 "how often the typical workload that hi and fgd measure fragmentation against is "
                 "read again from the placed pods (the policy is rebuilt only when it changed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--scheduler-name", options.scheduler_name,
                 "schedulerName the admission webhook sets on pods asking for flexai resources")
      ->capture_default_str();
  app.add_option("--max-body-bytes", options.max_body_bytes, "largest request body accepted")
      ->capture_default_str();
  app.set_version_flag("--version", std::string(FLEXAI_VERSION));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (options.lease_namespace.empty()) options.lease_namespace = DefaultLeaseNamespace();
  if (const char* pod = std::getenv("POD_NAME")) options.self_pod_name = pod;
  if (const char* ns = std::getenv("POD_NAMESPACE")) options.self_pod_namespace = ns;
  if (!options.follow_lease.empty() && options.follow_partner.empty()) {
    options.follow_partner = options.self_pod_name;
    if (options.follow_partner.empty()) {
      spdlog::error("--follow-lease needs --follow-partner or the POD_NAME env");
      return 2;
    }
  }

  auto config = kubeconfig.empty() ? flexai::kube::InClusterConfig()
                                   : flexai::kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    spdlog::error("{}", config.error().message);
    return 1;
  }
  auto client = flexai::kube::KubeClient::Create(*config);
  if (!client.ok()) {
    spdlog::error("{}", client.error().message);
    return 1;
  }
  auto service = flexai::extender::HiSchedulerService::Create(options, std::move(*client));
  if (!service.ok()) {
    spdlog::error("{}", service.error().message);
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  auto port = (*service)->Start();
  if (!port.ok()) {
    spdlog::error("{}", port.error().message);
    return 1;
  }
  spdlog::info("hi-scheduler serving on port {} (API server {})", *port, config->server);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  spdlog::info("shutting down");
  (*service)->Stop();
  return 0;
}
