// kubectl-flexai: the kubectl plugin (`kubectl flexai nodes|pods|explain POD`). Wiring only; the
// views live in the flexai_kubectl library so the demo and tests reuse them.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "kubectl_flexai/cluster_source.h"
#include "kubectl_flexai/explain.h"
#include "kubectl_flexai/pod_table.h"
#include "kubectl_flexai/slice_bars.h"

namespace {

using flexai::kubectl::SourceOptions;

int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

std::vector<std::string> ResourceNames(const flexai::partition::SlicePolicy& policy) {
  std::vector<std::string> names;
  for (const auto* set : {&policy.resources.gpu, &policy.resources.npu}) {
    names.insert(names.end(), {set->count, set->memory, set->memory_percentage, set->cores});
  }
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kubectl flexai: see flexai's GPU/NPU slices and why pods wait"};
  app.require_subcommand(1);
  SourceOptions source;
  std::string ns;
  bool all_namespaces = false;
  int width = 30;
  app.add_option("--kubeconfig", source.kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)");
  app.add_option("--context", source.context, "kubeconfig context (default: current-context)");
  app.add_option("-s,--server", source.server, "API server URL without authentication (tests)");
  app.add_option("-n,--namespace", ns, "namespace (default: the context's namespace)");
  app.add_flag("-A,--all-namespaces", all_namespaces, "pods of every namespace");
  app.add_option("--policy", source.policy_file, "slice policy file instead of the ConfigMap");
  app.add_option("--policy-configmap", source.policy_configmap, "NAMESPACE/NAME of the policy")
      ->capture_default_str();
  app.add_option("--width", width, "bar width in characters")
      ->check(CLI::Range(10, 200))
      ->capture_default_str();

  auto* nodes_cmd = app.add_subcommand("nodes", "each chip's slices as bars (memory, cores, pods)");
  auto* pods_cmd = app.add_subcommand("pods", "the slices each pod holds");
  auto* explain_cmd = app.add_subcommand("explain", "why a pod does not fit (per node)");
  std::string pod_name;
  flexai::kubectl::ExplainOptions explain_options;
  int node_stale_seconds = 60;
  explain_cmd->add_option("POD", pod_name, "pod name (in --namespace)")->required();
  explain_cmd
      ->add_option("--node-stale-seconds", node_stale_seconds,
                   "as hi-scheduler's flag: older device plugin heartbeats make a node unusable")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.set_version_flag("--version", std::string(FLEXAI_VERSION));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the libraries' info lines are not for this output

  auto client = flexai::kubectl::Connect(source);
  if (!client) return Fail(client.error().message);
  if (ns.empty()) ns = (*client)->config().default_namespace;
  auto snapshot = flexai::kubectl::FetchSnapshot(**client);
  if (!snapshot) return Fail(snapshot.error().message);

  if (nodes_cmd->parsed()) {
    flexai::kubectl::BarOptions options;
    options.width = width;
    options.now = std::chrono::system_clock::now();
    std::cout << flexai::kubectl::RenderNodes(*snapshot, options);
    return 0;
  }
  std::string note;
  auto policy = flexai::kubectl::FetchPolicy(**client, source, note);
  if (!policy) return Fail(policy.error().message);
  if (!note.empty()) std::cerr << "note: " << note << "\n";
  if (pods_cmd->parsed()) {
    std::cout << flexai::kubectl::RenderPods(*snapshot, ResourceNames(*policy),
                                             all_namespaces ? "" : ns);
    return 0;
  }
  const auto* pod = snapshot->FindPod(ns, pod_name);
  if (!pod) return Fail("pod " + ns + "/" + pod_name + " not found");
  explain_options.node_stale = std::chrono::seconds(node_stale_seconds);
  std::cout << flexai::kubectl::RenderExplanation(
      flexai::kubectl::ExplainPod(*snapshot, *policy, *pod, explain_options));
  return 0;
}
