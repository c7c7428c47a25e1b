// Command-line settings of flexai-device-plugin (the Helm chart relies on these flag names; see
// docs/device-plugin.md).
#pragma once

#include <string>

namespace flexai::device_plugin {

struct DaemonOptions {
  std::string backend = "nvidia";  // nvidia | ascend | sim
  std::string sim_config;          // sim backend's chip file; empty = built-in H100 box
  std::string plugin_dir = "/var/lib/kubelet/device-plugins";
  std::string node_name;        // default $NODE_NAME
  std::string kubeconfig;       // empty = in-cluster when KUBERNETES_SERVICE_HOST is set
  std::string policy;           // slice policy file; empty = built-in defaults
  int policy_poll_seconds = 5;  // how often the policy file is checked for changes; 0 = never
  std::string metrics_listen = "0.0.0.0:9400";  // empty = no metrics endpoint
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string dcmi_library = "libdcmi.so";
  // How NVIDIA GPUs are named to the container toolkit: "envvar" (NVIDIA_VISIBLE_DEVICES=<uuids>)
  // or "volume-mounts" (one /dev/null mount per GPU under /var/run/nvidia-container-devices, for
  // toolkits that ignore the variable in unprivileged pods), as NVIDIA's device plugin offers.
  std::string device_list_strategy = "envvar";
  // MPS mode: where the control daemons' pipe and log directories live on the host (mounted into
  // containers), and the control binary to run (a name is looked up in PATH).
  std::string mps_dir = "/var/run/flexai/mps";
  std::string mps_control = "nvidia-cuda-mps-control";
  // "run": this daemon runs the MPS control daemons; "watch": another process does (the chart's
  // mps-control container, see mps_only) and this one only checks that they answer.
  std::string mps_daemons = "run";
  // Run only the MPS control daemons of this node's GPUs, until SIGTERM (no kubelet, no cluster).
  bool mps_only = false;
  bool probe = false;
  std::string log_level = "info";
};

}  // namespace flexai::device_plugin
