// Watches a configuration file mounted from a ConfigMap (the slice policy) and calls back when
// its content changes. ConfigMap volumes are updated by swapping a `..data` symlink, which
// inotify on the file and mtime checks can both miss; comparing the content read through the
// path catches every form of update. An unreadable or empty file (mid-swap) counts as no change;
// a file that cannot be opened at all is logged (once), since the policy then no longer follows it.
// Used by hi-scheduler and the device plugin to reload their policy without a restart.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace flexai::kube {

class ConfigFileWatcher {
 public:
  // Takes the file's content now as the baseline: only later changes call `on_change`.
  ConfigFileWatcher(std::string path, std::chrono::milliseconds interval,
                    std::function<void()> on_change);
  ~ConfigFileWatcher();
  ConfigFileWatcher(const ConfigFileWatcher&) = delete;
  ConfigFileWatcher& operator=(const ConfigFileWatcher&) = delete;

  // Polls every `interval` on a thread of its own until Stop().
  void Start();
  void Stop();
  // One poll, on the caller's thread: calls `on_change` and returns true when the content differs
  // from the last content seen.
  bool CheckNow();
  // Whether the last check could not open the file (logged once per disappearance).
  bool missing() const { return missing_; }

 private:
  const std::string path_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> on_change_;
  std::mutex check_mu_;  // one check at a time
  std::string seen_;     // last content seen
  std::atomic<bool> missing_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace flexai::kube
