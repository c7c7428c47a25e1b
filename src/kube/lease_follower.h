// Leadership borrowed from another process's Lease: this process counts as leader while the
// Lease's holder is its partner. hi-scheduler runs as a sidecar of kube-scheduler, and only the
// kube-scheduler that holds its own Lease calls its sidecar; following that Lease (instead of
// electing separately) keeps the two leaders in one pod whatever the number of replicas.
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

struct LeaseFollowerConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;
  // The partner's identity, or its prefix: kube-scheduler writes "<hostname>_<uuid>", and a pod's
  // hostname is its name, so the pod name matches the scheduler in the same pod.
  std::string partner;
  std::chrono::milliseconds poll_period{2000};
};

// True when `holder` is `partner` or starts with `partner` followed by '_'.
bool HolderIsPartner(const std::string& holder, const std::string& partner);

class LeaseFollower {
 public:
  // `on_change(bool)` runs on the follower's thread when leadership changes. `client` must
  // outlive the follower.
  LeaseFollower(KubeClient& client, LeaseFollowerConfig config,
                std::function<void(bool)> on_change = nullptr);
  ~LeaseFollower();
  LeaseFollower(const LeaseFollower&) = delete;
  LeaseFollower& operator=(const LeaseFollower&) = delete;

  void Start();
  void Stop();
  bool is_leader() const { return leader_.load(); }
  // One read of the Lease (what the thread does every poll period); for tests. A failed read
  // keeps the previous answer: an apiserver hiccup must not flip leadership.
  void Poll();

 private:
  void Run();
  void SetLeader(bool leader);

  KubeClient& client_;
  LeaseFollowerConfig config_;
  std::function<void(bool)> on_change_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace flexai::kube
