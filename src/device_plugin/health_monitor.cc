#include "device_plugin/health_monitor.h"

#include <spdlog/spdlog.h>

namespace flexai::device_plugin {

HealthMonitor::HealthMonitor(Backend& backend, ChipInventory& inventory,
                             std::chrono::milliseconds interval)
    : backend_(backend), inventory_(inventory), interval_(interval) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::CheckOnce() {
  auto report = backend_.CheckHealth();
  if (!report) {
    // Keep the last known health: a flaky check must not flap every chip.
    if (report.error().message != last_error_) {
      spdlog::warn("health check failed, keeping last known health: {}", report.error().message);
      last_error_ = report.error().message;
    }
    return;
  }
  last_error_.clear();
  for (const auto& chip : inventory_.ApplyHealth(*report)) {
    if (chip.healthy()) {
      spdlog::info("chip {} ({}) is Healthy again", chip.index, chip.uuid);
    } else {
      spdlog::error("chip {} ({}) became Unhealthy; kubelet will stop placing pods on it",
                    chip.index, chip.uuid);
    }
  }
}

void HealthMonitor::Start() {
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      CheckOnce();
      lock.lock();
      wake_.wait_for(lock, interval_, [&] { return stop_; });
    }
  });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace flexai::device_plugin
