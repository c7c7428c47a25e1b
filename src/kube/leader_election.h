// Leader election over a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// renewTime every retry period; others take over once they have seen the same record unchanged
// for leaseDurationSeconds (judged by their own clock, so clock skew does not matter).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "kube/client.h"

namespace flexai::kube {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name = "flexai-hi-scheduler";
  std::string identity;  // unique per process, e.g. "<hostname>_<random>"
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};  // a leader that cannot renew this long steps down
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  // `on_change(true)` when this process becomes leader, `(false)` when it stops being one. Runs on
  // the elector's thread. `client` must outlive the elector.
  LeaderElector(KubeClient& client, LeaderElectionConfig config,
                std::function<void(bool)> on_change = nullptr);
  ~LeaderElector();  // stops; a leader releases the lease so a successor need not wait
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void Start();
  void Stop();
  bool is_leader() const { return leader_.load(); }
  const std::string& identity() const { return config_.identity; }
  // One acquire-or-renew round (what the thread does every retry period); for tests.
  bool TryAcquireOrRenew();

 private:
  void Run();
  void SetLeader(bool leader);
  void Release();

  KubeClient& client_;
  LeaderElectionConfig config_;
  std::function<void(bool)> on_change_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  // What we last saw of someone else's lease, and when (our clock).
  std::string observed_holder_;
  std::string observed_renew_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
};

// "<hostname>_<8 hex digits>": unique enough for a Lease holder identity.
std::string DefaultIdentity();

}  // namespace flexai::kube
