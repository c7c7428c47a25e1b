// flexai-device-plugin: the node daemon. Parses flags, builds the backend, cluster client and
// Daemon, and runs until SIGTERM/SIGINT. `--probe` prints the inventory as JSON and exits.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>

#include "device_plugin/backend/backend_factory.h"
#include "device_plugin/cluster_connection.h"
#include "device_plugin/daemon.h"
#include "device_plugin/inventory_json.h"
#include "device_plugin/mps_daemon_runner.h"
#include "device_plugin/settings_loader.h"

namespace {

using flexai::device_plugin::DaemonOptions;

std::string DefaultNodeName() {
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env != '\0') return env;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) return host;
  return "";
}

int Probe(const DaemonOptions& options) {
  auto backend = flexai::device_plugin::MakeBackend(options);
  if (!backend) {
    std::cerr << "probe failed: " << backend.error().message << "\n";
    return 1;
  }
  auto chips = (*backend)->Discover();
  if (!chips) {
    std::cerr << "probe failed: " << chips.error().message << "\n";
    return 1;
  }
  // Report live health, not just what discovery saw.
  if (auto health = (*backend)->CheckHealth()) {
    for (auto& chip : *chips) {
      if (auto it = health->find(chip.uuid); it != health->end()) chip.health = it->second;
    }
  }
  std::cout << flexai::device_plugin::InventoryJson((*backend)->vendor(), *chips).dump(2) << "\n";
  return 0;
}

// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so that only
// WaitForStopSignal sees them.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

void WaitForStopSignal(const sigset_t& stop_signals) {
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received signal {}, shutting down", signal);
}

int RunMpsDaemonsOnly(const DaemonOptions& options) {
  auto backend = flexai::device_plugin::MakeBackend(options);
  if (!backend) {
    spdlog::critical("{}", backend.error().message);
    return 1;
  }
  const sigset_t stop_signals = BlockStopSignals();
  auto runner = flexai::device_plugin::MpsDaemonRunner::Start(options, **backend);
  if (!runner) {
    spdlog::critical("{}", runner.error().message);
    return 1;
  }
  WaitForStopSignal(stop_signals);
  (*runner)->Stop();
  return 0;
}

int Run(const DaemonOptions& options) {
  auto backend = flexai::device_plugin::MakeBackend(options);
  if (!backend) {
    spdlog::critical("{}", backend.error().message);
    return 1;
  }
  auto cluster = flexai::device_plugin::ConnectToCluster(options);
  if (!cluster) {
    spdlog::critical("{}", cluster.error().message);
    return 1;
  }
  // Before any thread starts.
  const sigset_t stop_signals = BlockStopSignals();

  // The backend's vendor is known only after discovery, so settings are resolved in Create; the
  // daemon calls this again on every policy change. Node labels are read each time; when they
  // cannot be, the last ones known keep the node overrides from flipping.
  flexai::device_plugin::ClusterClient* cluster_client = cluster->get();
  std::map<std::string, std::string> labels;  // select the policy's node overrides
  auto settings_for = [&](flexai::partition::Vendor vendor) {
    if (cluster_client != nullptr) {
      auto got = cluster_client->NodeLabels(options.node_name);
      if (got) {
        labels = std::move(*got);
      } else {
        spdlog::warn("node labels unknown ({}); policy node overrides use the last labels known",
                     got.error().message);
      }
    }
    return flexai::device_plugin::LoadPluginSettings(options.policy, vendor, labels);
  };
  auto daemon = flexai::device_plugin::Daemon::Create(options, std::move(*backend),
                                                      std::move(*cluster), settings_for);
  if (!daemon) {
    spdlog::critical("{}", daemon.error().message);
    return 1;
  }
  if (auto s = (*daemon)->Start(); !s) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  WaitForStopSignal(stop_signals);
  (*daemon)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  DaemonOptions options;
  options.node_name = DefaultNodeName();
  // Library paths may also come from the environment (handy in containers); flags win.
  if (const char* nvml = std::getenv("FLEXAI_NVML_LIBRARY"); nvml && *nvml) {
    options.nvml_library = nvml;
  }
  if (const char* dcmi = std::getenv("FLEXAI_DCMI_LIBRARY"); dcmi && *dcmi) {
    options.dcmi_library = dcmi;
  }
  CLI::App app{"flexai-device-plugin: serves GPU/NPU slices to kubelet (device plugin v1beta1)"};
  app.add_option("--backend", options.backend, "chip backend: nvidia, ascend or sim")
      ->check(CLI::IsMember({"nvidia", "ascend", "sim"}))
      ->capture_default_str();
  app.add_option("--sim-config", options.sim_config,
                 "sim backend chip file (YAML/JSON); default: one 8x H100 box");
  app.add_option("--device-plugin-dir", options.plugin_dir,
                 "kubelet device plugin directory (holds kubelet.sock)")
      ->capture_default_str();
  app.add_option("--node-name", options.node_name, "this node's name (default $NODE_NAME)");
  app.add_option("--kubeconfig", options.kubeconfig,
                 "kubeconfig file; omit for in-cluster config (KUBERNETES_SERVICE_HOST)");
  app.add_option("--policy", options.policy, "slice policy file (policy.yaml)");
  app.add_option("--policy-poll-seconds", options.policy_poll_seconds,
                 "how often the policy file, and this node's labels (they select the policy's node "
                 "overrides), are checked for changes (applied without a restart); 0 = never")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            char* end = nullptr;
            double seconds = std::strtod(value.c_str(), &end);
            if (value.empty() || *end != '\0') return "'" + value + "' is not a number of seconds";
            if (seconds < 0 || seconds > 86400) return "'" + value + "' is not in 0..86400";
            return "";
          },
          "SECONDS"))
      ->capture_default_str();
  app.add_option("--metrics-listen", options.metrics_listen,
                 "HOST:PORT (or :PORT for every address) of the Prometheus /metrics endpoint; "
                 "empty disables it")
      ->capture_default_str();
  app.add_option("--nvml-library", options.nvml_library, "NVML library to dlopen")
      ->capture_default_str();
  app.add_option("--dcmi-library", options.dcmi_library, "Ascend DCMI library to dlopen")
      ->capture_default_str();
  app.add_option("--device-list-strategy", options.device_list_strategy,
                 "how NVIDIA GPUs are passed to the container toolkit: envvar "
                 "(NVIDIA_VISIBLE_DEVICES) or volume-mounts (/var/run/nvidia-container-devices, "
                 "for toolkits set to accept-nvidia-visible-devices-as-volume-mounts)")
      ->check(CLI::IsMember({"envvar", "volume-mounts"}))
      ->capture_default_str();
  app.add_option("--mps-dir", options.mps_dir,
                 "MPS mode: host directory of the control daemons' pipe and log directories "
                 "(mounted into containers)")
      ->capture_default_str();
  app.add_option("--mps-control", options.mps_control,
                 "MPS mode: the nvidia-cuda-mps-control binary (a name is looked up in PATH)")
      ->capture_default_str();
  app.add_option("--mps-daemons", options.mps_daemons,
                 "MPS mode: run the control daemons here, or watch those another process runs "
                 "on --mps-dir (the chart's mps-control container: --mps-daemons-only), so that "
                 "a restart of this daemon leaves the MPS servers of running pods alone")
      ->check(CLI::IsMember({"run", "watch"}))
      ->capture_default_str();
  app.add_flag("--mps-daemons-only", options.mps_only,
               "run only the MPS control daemons of this node's GPUs (one per GPU and one for "
               "multi-GPU containers, restarted when they die, quit at SIGTERM), with their "
               "/metrics; nothing is served to kubelet");
  app.add_flag("--probe", options.probe, "print the discovered inventory as JSON and exit");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string(FLEXAI_VERSION));
  CLI11_PARSE(app, argc, argv);

  // Logs go to stderr so that --probe's stdout is pure JSON.
  spdlog::set_default_logger(spdlog::stderr_color_mt("flexai-device-plugin"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  if (options.probe) return Probe(options);
  if (options.mps_only) return RunMpsDaemonsOnly(options);
  return Run(options);
}
