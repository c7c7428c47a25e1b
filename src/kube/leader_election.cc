#include "kube/leader_election.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "kube/operations.h"
#include "kube/paths.h"
#include "kube/time_format.h"

namespace flexai::kube {

std::string DefaultIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "_%08x", rd());
  return std::string(host) + suffix;
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionConfig config,
                             std::function<void(bool)> on_change)
    : client_(client), config_(std::move(config)), on_change_(std::move(on_change)) {
  if (config_.identity.empty()) config_.identity = DefaultIdentity();
}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (leader_) {
    Release();
    SetLeader(false);
  }
}

void LeaderElector::SetLeader(bool leader) {
  if (leader_.exchange(leader) == leader) return;
  spdlog::info("leader election: {} {} lease {}/{}", config_.identity,
               leader ? "now holds" : "no longer holds", config_.lease_namespace,
               config_.lease_name);
  if (on_change_) on_change_(leader);
}

bool LeaderElector::TryAcquireOrRenew() {
  auto now_wall = std::chrono::system_clock::now();
  auto now = std::chrono::steady_clock::now();
  std::string path = LeasePath(config_.lease_namespace, config_.lease_name);
  std::string stamp = FormatMicroTime(now_wall);
  ApiResponse got = client_.Get(path);
  if (got.not_found()) {
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", config_.lease_duration.count()},
          {"acquireTime", stamp},
          {"renewTime", stamp},
          {"leaseTransitions", 0}}}};
    ApiResponse created = client_.Post(LeasesPath(config_.lease_namespace), lease);
    if (created.ok()) {
      last_renew_ = now;
      return true;
    }
    if (!created.conflict()) spdlog::warn("{}", created.Describe("creating lease"));
    return false;
  }
  if (!got.ok()) {
    spdlog::warn("{}", got.Describe("reading lease"));
    return false;
  }
  Json lease = got.body;
  Json spec = ObjectAt(lease, "spec");
  std::string holder = StringAt(spec, "holderIdentity");
  std::string renew = StringAt(spec, "renewTime");
  if (holder != observed_holder_ || renew != observed_renew_) {
    observed_holder_ = holder;
    observed_renew_ = renew;
    observed_at_ = now;
  }
  int64_t duration = IntAt(spec, "leaseDurationSeconds", config_.lease_duration.count());
  bool mine = holder == config_.identity;
  bool expired = holder.empty() || now >= observed_at_ + std::chrono::seconds(duration);
  if (!mine && !expired) return false;

  Json& s = lease["spec"];
  if (!mine) {
    s["acquireTime"] = stamp;
    s["leaseTransitions"] = IntAt(spec, "leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  s["holderIdentity"] = config_.identity;
  s["leaseDurationSeconds"] = config_.lease_duration.count();
  s["renewTime"] = stamp;
  // PUT with the read resourceVersion: a concurrent candidate gets 409 and stays follower.
  ApiResponse put = client_.Put(path, lease);
  if (!put.ok()) {
    if (!put.conflict()) spdlog::warn("{}", put.Describe("updating lease"));
    return false;
  }
  last_renew_ = now;
  observed_holder_ = config_.identity;
  observed_renew_ = stamp;
  observed_at_ = now;
  return true;
}

void LeaderElector::Release() {
  std::string path = LeasePath(config_.lease_namespace, config_.lease_name);
  ApiResponse got = client_.Get(path);
  if (!got.ok() || StringAt(ObjectAt(got.body, "spec"), "holderIdentity") != config_.identity) {
    return;
  }
  Json lease = got.body;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  ApiResponse put = client_.Put(path, lease);
  if (!put.ok()) spdlog::warn("{}", put.Describe("releasing lease"));
}

void LeaderElector::Run() {
  while (!stopping_) {
    bool held = TryAcquireOrRenew();
    if (held) {
      SetLeader(true);
    } else if (leader_) {
      // Step down at once when someone else holds the lease, or when renewing kept failing.
      bool taken = !observed_holder_.empty() && observed_holder_ != config_.identity;
      if (taken || std::chrono::steady_clock::now() - last_renew_ > config_.renew_deadline) {
        SetLeader(false);
      }
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, config_.retry_period, [this] { return stopping_.load(); });
  }
}

}  // namespace flexai::kube
