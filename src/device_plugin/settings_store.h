// The daemon's current settings, shared by the allocator, the kubelet service and the policy
// reloader. Readers take an immutable snapshot (a shared_ptr that stays valid however long they
// hold it); a policy reload swaps in a whole new snapshot, so no reader ever sees half of one.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

class SettingsStore {
 public:
  explicit SettingsStore(PluginSettings initial)
      : current_(std::make_shared<const PluginSettings>(std::move(initial))) {}

  std::shared_ptr<const PluginSettings> Current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  void Replace(PluginSettings next) {
    auto snapshot = std::make_shared<const PluginSettings>(std::move(next));
    std::lock_guard lock(mu_);
    current_ = std::move(snapshot);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const PluginSettings> current_;
};

}  // namespace flexai::device_plugin
