// A small hand-written Kubernetes REST client (no C++ client exists in Debian): JSON in, JSON out,
// over cpp-httplib with TLS, bearer tokens and client certificates. Thread-safe: calls from many
// threads share a pool of keep-alive connections. Watches stream on a connection of their own.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/config.h"
#include "partition/result.h"

namespace httplib {
class ClientImpl;
}

namespace flexai::kube {

using Json = nlohmann::json;

// The outcome of one API call. `status` is the HTTP status, 0 when no reply came (connection
// refused, TLS failure, timeout); `error` then says why. For non-2xx replies `error` carries the
// Kubernetes Status message.
struct ApiResponse {
  int status = 0;
  Json body;
  std::string error;

  bool ok() const { return status >= 200 && status < 300; }
  bool conflict() const { return status == 409; }
  bool not_found() const { return status == 404; }
  bool gone() const { return status == 410; }
  // "GET /api/v1/nodes: 403 Forbidden: nodes is forbidden ..." style text for logs.
  std::string Describe(const std::string& what) const;
};

// One event of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
struct WatchEvent {
  std::string type;
  Json object;
};

// How a watch stream ended.
enum class WatchEnd {
  kClosed,     // the server ended the stream (timeoutSeconds): watch again from the last RV
  kGone,       // 410 (HTTP or ERROR event): the RV is too old, list again
  kCancelled,  // WatchCancel::Cancel() or the handler returned false
  kFailed,     // transport error or another HTTP error; `error` says which
};
struct WatchResult {
  WatchEnd end = WatchEnd::kClosed;
  std::string error;
};

// Lets another thread end a running Watch at once (closes its socket).
class WatchCancel {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class KubeClient;
  std::mutex mu_;
  httplib::ClientImpl* active_ = nullptr;
  std::atomic<bool> cancelled_{false};
};

class KubeClient {
 public:
  // Validates the configuration (URL, PEM material) so bad credentials fail at start-up.
  static Result<std::unique_ptr<KubeClient>> Create(ClusterConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const ClusterConfig& config() const { return config_; }

  // `path` is the full API path with query, e.g. "/api/v1/namespaces/ns/pods/p".
  ApiResponse Get(const std::string& path);
  ApiResponse Post(const std::string& path, const Json& body);
  ApiResponse Put(const std::string& path, const Json& body);
  // RFC 7386 merge patch (application/merge-patch+json). Put metadata.resourceVersion in the patch
  // to make it conditional: a stale one gives 409.
  ApiResponse MergePatch(const std::string& path, const Json& patch);
  ApiResponse Delete(const std::string& path);

  // Streams `path` (which must carry ?watch=1...) and hands each event to `on_event` until the
  // server closes the stream, `on_event` returns false, or `cancel` fires. ERROR events with
  // code 410 end the watch with kGone instead of being handed on.
  WatchResult Watch(const std::string& path, const std::function<bool(WatchEvent)>& on_event,
                    WatchCancel* cancel = nullptr, int read_timeout_seconds = 330);

 private:
  KubeClient(ClusterConfig config, std::string host, int port);
  std::unique_ptr<httplib::ClientImpl> Connect(int read_timeout_seconds) const;
  std::unique_ptr<httplib::ClientImpl> Acquire();
  void Release(std::unique_ptr<httplib::ClientImpl> connection);
  std::string BearerToken();
  ApiResponse Send(const std::string& method, const std::string& path, const Json* body,
                   const std::string& content_type);

  ClusterConfig config_;
  std::string host_;
  int port_ = 0;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;
  std::mutex token_mu_;
  std::string cached_token_;
  int64_t token_read_at_ = 0;  // steady-clock seconds
};

}  // namespace flexai::kube
