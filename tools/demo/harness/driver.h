// Plays the rest of Kubernetes around the real flexai processes of a Cluster:
//  * kube-scheduler, exactly as it calls an extender configured with nodeCacheCapable: true and
//    bindVerb: POST /filter with NodeNames, POST /prioritize with the nodes that passed, pick the
//    best score, POST /bind (only the extender binds); errors and unschedulable pods are retried
//    with back-off; after a failed bind the pod is re-read, as the informer would show a bind that
//    did happen. With several replicas' URLs, a refused (503) or unreachable one is skipped.
//  * kubelet on every node: for each pod bound there, GetPreferredAllocation + Allocate per
//    container through the node's device plugin socket, then phase Running.
//  * the workload: each pod runs for its time, then phase Succeeded, so its slices are reused.
// It checks all along: what Allocate handed out never over-allocates a chip (ChipLedger), it
// equals the assignment hi-scheduler wrote on the pod, and no pod waits more than the stuck limit
// once a node fits it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/chip_ledger.h"
#include "harness/cluster.h"
#include "harness/workload.h"

namespace flexai::e2e {

using Clock = std::chrono::steady_clock;

struct DriverOptions {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // A pod not admitted this long after a node first fitted it (or after an extender call failed
  // for it) is stuck.
  std::chrono::seconds stuck_after{30};
  int max_slices_per_chip = 10;
  // Called just before each /bind (for faults at random points of bind).
  std::function<void(const std::string& pod)> on_bind_start;
  bool log_progress = false;
};

struct DriverReport {
  int submitted = 0, bound = 0, admitted = 0, succeeded = 0;
  int filter_calls = 0, bind_calls = 0, bind_errors = 0, extender_unreachable = 0;
  int allocate_retries = 0, unschedulable_retries = 0;
  std::vector<std::string> violations;  // over-allocation, wrong grants, double admission
  std::vector<std::string> stuck;       // pods over the stuck limit
  std::vector<double> create_to_admit_ms;
  double filter_ms = 0, prioritize_ms = 0, bind_ms = 0;  // time spent waiting on each verb
  double elapsed_s = 0;
  double first_create_to_last_admit_s = 0;  // the span throughput is measured over
  // One line per problem, or "ok".
  std::string Summary() const;
};

class Driver {
 public:
  Driver(Cluster& cluster, DriverOptions options = {});
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  void Start();
  void Stop();
  // Creates the pod in the API server (retrying API errors) and queues it for scheduling.
  void Submit(const PodPlan& plan);
  // True once every submitted pod has Succeeded.
  bool WaitAllSucceeded(std::chrono::seconds timeout);
  // Pods not yet Succeeded, with where each one is, for failure messages.
  std::string Unfinished() const;
  DriverReport Report() const;
  const ChipLedger& ledger() const { return ledger_; }
  int running() const;

 private:
  enum class Stage { kPending, kBound, kRunning, kSucceeded };
  struct PodState {
    PodPlan plan;
    Json object;
    std::string uid;
    Stage stage = Stage::kPending;
    std::string node;
    Clock::time_point created, next_try;
    std::optional<Clock::time_point> clock_started;  // stuck clock
    std::optional<Clock::time_point> admitted;
    std::chrono::milliseconds backoff{0};
    std::vector<ContainerGrant> grants;  // per container, as far as admitted
    bool reported_stuck = false;
    std::string last_error;
  };
  struct NodeQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> pods;
  };

  void SchedulerLoop();
  void ScheduleOne(const std::string& name);
  void KubeletLoop(int node);
  bool AdmitOne(int node, const std::string& name);
  void CheckIsolation(const std::string& what, int node, const PodPlan& plan,
                      const std::map<std::string, bool>& exclusive,
                      const std::map<std::string, std::string>& env);
  void CompleterLoop();
  void CheckerLoop();
  void Backoff(PodState& pod, const std::string& why);
  void MarkBound(const std::string& name, const std::string& node);
  void Violation(const std::string& what);
  // Extender call with failover across replicas; nullopt when none answered 200.
  std::optional<Json> CallExtender(const std::string& verb, const Json& body, bool& refused);
  kube::ApiResponse ApiRetry(const std::function<kube::ApiResponse()>& call,
                             bool conflict_is_transient);

  Cluster& cluster_;
  DriverOptions options_;
  ChipLedger ledger_;
  std::vector<std::string> urls_;
  size_t preferred_url_ = 0;
  std::vector<std::string> node_names_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, PodState> pods_;
  std::deque<std::string> queue_;  // pending, in submission order
  std::multimap<Clock::time_point, std::string> completions_;
  DriverReport counters_;
  Clock::time_point started_at_;

  std::vector<std::unique_ptr<NodeQueue>> node_queues_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace flexai::e2e
