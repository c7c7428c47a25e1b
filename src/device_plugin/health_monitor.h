// Polls the backend's health a few times a second and applies it to the inventory, so kubelet's
// ListAndWatch streams see a change well within a second. Logs each transition.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "device_plugin/backend/backend.h"
#include "device_plugin/chip_inventory.h"

namespace flexai::device_plugin {

class HealthMonitor {
 public:
  HealthMonitor(Backend& backend, ChipInventory& inventory,
                std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void Start();
  void Stop();
  // One check, synchronously (also what the thread runs).
  void CheckOnce();

 private:
  Backend& backend_;
  ChipInventory& inventory_;
  const std::chrono::milliseconds interval_;
  std::string last_error_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace flexai::device_plugin
