#include "kube/list_watcher.h"

#include <spdlog/spdlog.h>

#include "kube/operations.h"
#include "kube/paths.h"

namespace flexai::kube {

ListWatcher::ListWatcher(KubeClient& client, std::string collection, ListWatchHandlers handlers,
                         ListWatchOptions options)
    : client_(client),
      collection_(std::move(collection)),
      handlers_(std::move(handlers)),
      options_(std::move(options)),
      backoff_(options_.backoff_initial) {}

ListWatcher::~ListWatcher() { Stop(); }

void ListWatcher::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ListWatcher::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    wake_.notify_all();
  }
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

std::string ListWatcher::resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

void ListWatcher::Backoff() {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, backoff_, [this] { return stopping_.load(); });
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
}

bool ListWatcher::ListOnce() {
  // Paged (limit/continue) so 50,000 pods do not arrive as one huge reply; all pages belong to
  // one snapshot. An expired continue token (410) starts over.
  std::vector<Json> items;
  std::string rv, token;
  do {
    std::string query = "limit=" + std::to_string(options_.page_size);
    if (!token.empty()) query += "&continue=" + UrlEncode(token);
    if (!options_.query.empty()) query += "&" + options_.query;
    ApiResponse r = client_.Get(collection_ + "?" + query);
    if (r.gone() && !token.empty()) {
      spdlog::info("kube: list {} continue token expired; listing again", collection_);
      items.clear();
      token.clear();
      continue;
    }
    if (!r.ok() || !r.body.is_object()) {
      spdlog::warn("{}; retrying", r.Describe("list " + collection_));
      return false;
    }
    if (auto it = r.body.find("items"); it != r.body.end() && it->is_array()) {
      for (auto& item : *it) items.push_back(std::move(item));
    }
    rv = ResourceVersionOf(r.body);
    token = StringAt(ObjectAt(r.body, "metadata"), "continue");
  } while (!token.empty() && !stopping_);
  if (stopping_) return false;
  size_t count = items.size();
  handlers_.on_replace(std::move(items));
  {
    std::lock_guard lock(mu_);
    resource_version_ = rv;
  }
  ++list_count_;
  synced_ = true;
  spdlog::info("kube: listed {} ({} objects, resourceVersion {})", collection_, count, rv);
  return true;
}

void ListWatcher::Run() {
  bool need_list = true;
  while (!stopping_) {
    if (need_list) {
      if (!ListOnce()) {
        Backoff();
        continue;
      }
      need_list = false;
    }
    std::string query =
        "watch=1&allowWatchBookmarks=true&resourceVersion=" + UrlEncode(resource_version()) +
        "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
    if (!options_.query.empty()) query += "&" + options_.query;
    bool got_event = false;
    WatchResult result = client_.Watch(
        collection_ + "?" + query,
        [&](WatchEvent event) {
          if (stopping_) return false;
          got_event = true;
          std::string rv = ResourceVersionOf(event.object);
          if (event.type != "BOOKMARK") handlers_.on_event(event.type, event.object);
          if (!rv.empty()) {
            std::lock_guard lock(mu_);
            resource_version_ = rv;
          }
          return true;
        },
        &cancel_, options_.watch_timeout_seconds + 30);
    if (stopping_) break;
    switch (result.end) {
      case WatchEnd::kClosed:
        backoff_ = options_.backoff_initial;
        break;
      case WatchEnd::kGone:
        spdlog::info("kube: watch {} expired (410 Gone at resourceVersion {}); listing again",
                     collection_, resource_version());
        need_list = true;
        break;
      case WatchEnd::kCancelled:
        break;
      case WatchEnd::kFailed:
        if (got_event) backoff_ = options_.backoff_initial;
        spdlog::warn("kube: watch {} failed: {}; reconnecting in {} ms", collection_, result.error,
                     backoff_.count());
        Backoff();
        break;
    }
  }
}

}  // namespace flexai::kube
