// Keeps a local view of one collection (nodes, pods) current: list, then watch from the list's
// resourceVersion; bookmarks advance the version; 410 Gone lists again; a broken stream is
// re-opened with exponential backoff. Handlers run on the watcher's own thread, in order.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"

namespace flexai::kube {

struct ListWatchHandlers {
  // The whole collection, after the first list and after every re-list: replace local state.
  std::function<void(std::vector<Json> items)> on_replace;
  // ADDED, MODIFIED or DELETED for one object.
  std::function<void(const std::string& type, const Json& object)> on_event;
};

struct ListWatchOptions {
  std::string query;  // extra selectors, e.g. "fieldSelector=spec.nodeName%3Dn1" (encoded)
  int watch_timeout_seconds = 300;  // asks the server to end each stream; then re-watch
  int page_size = 500;              // objects per list page (limit/continue)
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{30000};
};

class ListWatcher {
 public:
  // `collection` is a list path such as "/api/v1/pods". `client` must outlive the watcher.
  ListWatcher(KubeClient& client, std::string collection, ListWatchHandlers handlers,
              ListWatchOptions options = {});
  ~ListWatcher();  // stops
  ListWatcher(const ListWatcher&) = delete;
  ListWatcher& operator=(const ListWatcher&) = delete;

  void Start();
  void Stop();
  // True once the first list has been handed to on_replace.
  bool synced() const { return synced_.load(); }
  // How many full lists were made (1 + re-lists after 410 or failures); for tests and metrics.
  int list_count() const { return list_count_.load(); }
  std::string resource_version() const;

 private:
  void Run();
  bool ListOnce();
  // Sleeps for the current backoff (returns early on Stop) and doubles it.
  void Backoff();

  KubeClient& client_;
  std::string collection_;
  ListWatchHandlers handlers_;
  ListWatchOptions options_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  std::atomic<int> list_count_{0};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::string resource_version_;
  std::chrono::milliseconds backoff_;
  WatchCancel cancel_;
};

}  // namespace flexai::kube
