#include "kube/lease_follower.h"

#include <spdlog/spdlog.h>

#include "kube/paths.h"

namespace flexai::kube {

bool HolderIsPartner(const std::string& holder, const std::string& partner) {
  if (partner.empty() || !holder.starts_with(partner)) return false;
  return holder.size() == partner.size() || holder[partner.size()] == '_';
}

LeaseFollower::LeaseFollower(KubeClient& client, LeaseFollowerConfig config,
                             std::function<void(bool)> on_change)
    : client_(client), config_(std::move(config)), on_change_(std::move(on_change)) {}

LeaseFollower::~LeaseFollower() { Stop(); }

void LeaseFollower::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaseFollower::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void LeaseFollower::SetLeader(bool leader) {
  if (leader_.exchange(leader) == leader) return;
  spdlog::info("lease {}/{} is {} held by {}: {}", config_.lease_namespace, config_.lease_name,
               leader ? "now" : "no longer", config_.partner,
               leader ? "acting as leader" : "following");
  if (on_change_) on_change_(leader);
}

void LeaseFollower::Poll() {
  ApiResponse got = client_.Get(LeasePath(config_.lease_namespace, config_.lease_name));
  if (got.not_found()) {
    SetLeader(false);
    return;
  }
  if (!got.ok()) {
    spdlog::warn(
        "{}; keeping the previous leadership answer",
        got.Describe("reading lease " + config_.lease_namespace + "/" + config_.lease_name));
    return;
  }
  std::string holder;
  if (got.body.is_object() && got.body.contains("spec") && got.body["spec"].is_object()) {
    const Json& spec = got.body["spec"];
    if (spec.contains("holderIdentity") && spec["holderIdentity"].is_string()) {
      holder = spec["holderIdentity"].get<std::string>();
    }
  }
  SetLeader(HolderIsPartner(holder, config_.partner));
}

void LeaseFollower::Run() {
  while (!stopping_) {
    Poll();
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, config_.poll_period, [this] { return stopping_.load(); });
  }
}

}  // namespace flexai::kube
