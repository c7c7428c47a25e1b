#include "extender/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <filesystem>

namespace flexai::extender {
namespace {

// Each keep-alive connection holds a thread; kube-scheduler keeps a few, probes and Prometheus
// a few more.
constexpr size_t kServerThreads = 32;

void Reply(httplib::Response& res, const HttpReply& reply) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type.c_str());
}

}  // namespace

bool ParseHostPort(const std::string& text, std::string& host, int& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  port = std::atoi(text.c_str() + colon + 1);
  return !host.empty() && port >= 0 && port < 65536;
}

HttpServer::HttpServer(HttpEndpoints endpoints) : endpoints_(std::move(endpoints)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  for (auto& s : servers_) s->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  servers_.clear();
}

Result<int> HttpServer::Listen(const ListenOptions& options) {
  std::unique_ptr<httplib::Server> server;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return Error{"TLS needs both --tls-cert and --tls-key"};
    }
    for (const auto& f : {options.tls_cert, options.tls_key}) {
      if (!std::filesystem::exists(f)) return Error{"TLS file " + f + " does not exist"};
    }
    auto tls =
        std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!tls->is_valid()) {
      return Error{"cannot load TLS certificate " + options.tls_cert + " / key " + options.tls_key};
    }
    server = std::move(tls);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  // httplib's API wants a raw pointer it then owns.
  server->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server->set_payload_max_length(options.max_body_bytes);
  server->set_keep_alive_max_count(100000);
  // Stop() waits for idle keep-alive connections this long; kube-scheduler reconnects cheaply.
  server->set_keep_alive_timeout(5);
  server->set_tcp_nodelay(true);
  Route(*server, options.webhook_only);
  int port = options.port == 0
                 ? server->bind_to_any_port(options.host)
                 : (server->bind_to_port(options.host, options.port) ? options.port : -1);
  if (port <= 0) {
    return Error{"cannot listen on " + options.host + ":" + std::to_string(options.port)};
  }
  httplib::Server* raw = server.get();
  servers_.push_back(std::move(server));
  threads_.emplace_back([raw] { raw->listen_after_bind(); });
  while (!raw->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("listening on {}://{}:{}{}", options.tls_cert.empty() ? "http" : "https",
               options.host, port, options.webhook_only ? " (webhook only)" : "");
  return port;
}

void HttpServer::Route(httplib::Server& server, bool webhook_only) {
  auto timed = [this](const char* verb, std::function<HttpReply(const httplib::Request&)> fn) {
    return [this, verb, fn](const httplib::Request& req, httplib::Response& res) {
      auto start = std::chrono::steady_clock::now();
      HttpReply reply;
      try {
        reply = fn(req);
      } catch (const std::exception& e) {
        // A safety net only: handlers return errors as values (the fuzz target checks that).
        spdlog::error("{} {}: unexpected exception: {}", req.method, req.path, e.what());
        reply = {500, "{\"Error\":\"internal error\"}", "application/json"};
      }
      Reply(res, reply);
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (endpoints_.metrics) endpoints_.metrics->ObserveRequest(verb, reply.status, seconds);
    };
  };
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server.Post("/mutate", timed("mutate", [this](const httplib::Request& req) {
                return endpoints_.mutate ? endpoints_.mutate(req.body)
                                         : HttpReply{404, "webhook disabled", "text/plain"};
              }));
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 413) {
      res.set_content("{\"Error\":\"request body too large\"}", "application/json");
    } else if (res.body.empty()) {
      res.set_content("{\"Error\":\"no such endpoint: " + req.method + " " + req.path + "\"}",
                      "application/json");
    }
  });
  if (webhook_only) return;

  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = endpoints_.ready && endpoints_.ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ok" : "cache not synced yet", "text/plain");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    ClusterCache::Stats stats = endpoints_.stats ? endpoints_.stats() : ClusterCache::Stats{};
    bool leader = endpoints_.leader && endpoints_.leader();
    bool ready = endpoints_.ready && endpoints_.ready();
    res.set_content(endpoints_.metrics ? endpoints_.metrics->Render(stats, leader, ready) : "",
                    "text/plain; version=0.0.4");
  });
  server.Post("/filter", timed("filter", [this](const httplib::Request& req) {
                return endpoints_.api->Filter(req.body);
              }));
  server.Post("/prioritize", timed("prioritize", [this](const httplib::Request& req) {
                return endpoints_.api->Prioritize(req.body);
              }));
  server.Post(
      "/bind", timed("bind", [this](const httplib::Request& req) {
        if (endpoints_.leader && !endpoints_.leader()) {
          return HttpReply{503,
                           "{\"Error\":\"not the leader: this hi-scheduler replica does "
                           "not bind\"}",
                           "application/json"};
        }
        HttpReply reply = endpoints_.api->Bind(req.body);
        if (endpoints_.metrics && reply.status == 200) {
          endpoints_.metrics->CountBind(reply.body.find("\"Error\":\"\"") != std::string::npos);
        }
        return reply;
      }));
  server.Post(
      "/preempt", timed("preempt", [this](const httplib::Request& req) {
        if (!endpoints_.preempt) {
          return HttpReply{501, "{\"Error\":\"preempt is not served here\"}", "application/json"};
        }
        return endpoints_.preempt(req.body);
      }));
}

}  // namespace flexai::extender
