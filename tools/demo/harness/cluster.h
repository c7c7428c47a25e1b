// A whole flexai cluster on one machine, every piece a real process: flexai-fake-apiserver, one
// flexai-device-plugin (sim backend) per node next to a SimKubelet, and one or more hi-scheduler
// replicas. Everything lives in one temp dir (kubeconfig, policy, logs, plugin sockets) and every
// process is killed when the Cluster goes away.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/process.h"
#include "harness/sim_kubelet.h"
#include "kube/client.h"
#include "partition/result.h"

namespace flexai::e2e {

using Json = nlohmann::json;

struct Binaries {
  std::string apiserver;      // flexai-fake-apiserver
  std::string scheduler;      // hi-scheduler
  std::string device_plugin;  // flexai-device-plugin
};

struct ClusterOptions {
  Binaries bin;
  int nodes = 3;
  int chips_per_node = 4;
  int64_t chip_memory_mib = 81559;
  int schedulers = 1;
  bool leader_elect = false;  // forced on with more than one scheduler
  int node_stale_seconds = 60;
  // The first `mps_nodes` nodes are labelled flexai.io/pool=mps, which the policy's node override
  // gives isolation mps; the others keep the policy's none.
  int mps_nodes = 0;
  std::string log_level = "info";
  bool keep_dir = false;  // keep the temp dir (logs) after the run
};

class SimNode {
 public:
  SimNode(std::string name, std::string dir) : name(std::move(name)), dir(dir), kubelet(dir) {}
  std::string name;
  std::string dir;  // device plugin directory: kubelet.sock and the plugin's socket
  SimKubelet kubelet;
  std::unique_ptr<ChildProcess> plugin;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts everything and waits until every node's inventory is published and every scheduler is
  // ready and sees all chips. Call from a thread that outlives the cluster (see process.h).
  Status Start();

  const ClusterOptions& options() const { return options_; }
  const std::string& dir() const { return dir_.path(); }
  // Keep the temp dir (every process's log) after the cluster stops, e.g. when a test failed.
  void KeepDir() { dir_.keep(); }
  std::string api_url() const { return api_url_; }
  std::string kubeconfig() const { return dir_.File("kubeconfig"); }
  kube::KubeClient& api() { return *api_; }
  std::vector<std::string> node_names() const;
  SimNode& node(int i) { return *nodes_[i]; }
  int node_count() const { return static_cast<int>(nodes_.size()); }
  std::string chip_uuid(int node, int chip) const;
  // The isolation mode node `node`'s policy gives slices: "mps" or "none".
  std::string isolation_of(int node) const;

  // --- hi-scheduler replicas ---
  std::vector<std::string> scheduler_urls() const;
  void StartScheduler(int i);
  void KillScheduler(int i);  // SIGKILL
  bool scheduler_running(int i);
  // Waits for /readyz and for its cache to hold every chip.
  Status WaitSchedulerReady(int i, std::chrono::seconds timeout = std::chrono::seconds(30));
  // The replica holding the lease (-1 when none says so).
  int LeaderIndex();
  // A `flexai_cluster{quantity="..."}` value from scheduler i's /metrics (-1 when unreadable).
  double SchedulerGauge(int i, const std::string& quantity);

  // --- device plugins and kubelets ---
  void StartDevicePlugin(int node);
  void KillDevicePlugin(int node);    // SIGKILL
  void PauseDevicePlugin(int node);   // SIGSTOP: its heartbeat stops
  void ResumeDevicePlugin(int node);  // SIGCONT
  void RestartKubelet(int node);
  // Waits until the node's plugin has registered more than `previous` times.
  bool WaitRegistered(int node, int previous, std::chrono::seconds timeout);

  // --- the API server's fault injection (POST /fake/faults) ---
  Status SetFaults(const Json& faults);

  // Tails of every log, for a failure message.
  std::string LogTails(size_t per_file = 1500) const;

 private:
  Status StartApiServer();
  Status CreateNodes();
  Status WaitInventories(std::chrono::seconds timeout);

  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> apiserver_;
  std::string api_url_;
  std::unique_ptr<kube::KubeClient> api_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<int> scheduler_ports_;
  std::vector<std::unique_ptr<ChildProcess>> schedulers_;
};

// GET/POST with JSON on a plain http://host:port URL: status 0 when no answer came.
struct HttpReply {
  int status = 0;
  std::string body;
};
HttpReply HttpGet(const std::string& base_url, const std::string& path, int timeout_ms = 5000);
HttpReply HttpPostJson(const std::string& base_url, const std::string& path, const Json& body,
                       int timeout_ms = 10000);

}  // namespace flexai::e2e
