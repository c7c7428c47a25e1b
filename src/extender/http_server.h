// The Hi Scheduler's HTTP(S) endpoints: POST /filter, /prioritize, /bind (503 on followers),
// /preempt, /mutate (admission webhook); GET /healthz, /readyz, /metrics. A second,
// optional listener serves only /mutate and /healthz (the webhook's TLS port).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "extender/extender_api.h"
#include "extender/metrics.h"
#include "partition/result.h"

namespace httplib {
class Server;
}

namespace flexai::extender {

struct HttpEndpoints {
  ExtenderApi* api = nullptr;
  ExtenderMetrics* metrics = nullptr;
  std::function<HttpReply(std::string_view body)> mutate;
  std::function<HttpReply(std::string_view body)> preempt;  // unset: 501
  std::function<bool()> ready;
  std::function<bool()> leader;  // may bind now
  std::function<ClusterCache::Stats()> stats;
};

struct ListenOptions {
  std::string host = "127.0.0.1";
  int port = 8888;                // 0 = any free port
  std::string tls_cert, tls_key;  // both set = HTTPS
  size_t max_body_bytes = 32u << 20;
  bool webhook_only = false;
};

class HttpServer {
 public:
  explicit HttpServer(HttpEndpoints endpoints);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts one listener on its own thread; returns the bound port.
  Result<int> Listen(const ListenOptions& options);
  void Stop();

 private:
  void Route(httplib::Server& server, bool webhook_only);

  HttpEndpoints endpoints_;
  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
};

// Splits "HOST:PORT" ("[::1]:8888" for IPv6); false when malformed.
bool ParseHostPort(const std::string& text, std::string& host, int& port);

}  // namespace flexai::extender
