#include "kube/client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace flexai::kube {
namespace {

constexpr size_t kMaxIdleConnections = 8;
constexpr int64_t kTokenRereadSeconds = 60;

int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A fresh store holding every certificate of `pem`; nullptr when none parses.
X509_STORE* StoreFromPem(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509_STORE* store = X509_STORE_new();
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++added;
  }
  if (added == 0) {
    X509_STORE_free(store);
    return nullptr;
  }
  return store;
}

X509Ptr CertFromPem(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr KeyFromPem(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// Splits "https://host:port" into host and port (default 443 / 80).
bool ParseServer(const std::string& server, std::string& host, int& port) {
  size_t scheme_end = server.find("://");
  if (scheme_end == std::string::npos) return false;
  std::string scheme = server.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string rest = server.substr(scheme_end + 3);
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  port = scheme == "https" ? 443 : 80;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = std::atoi(rest.c_str() + close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = std::atoi(rest.c_str() + colon + 1);
  } else {
    host = rest;
  }
  return !host.empty() && port > 0 && port < 65536;
}

std::string StatusMessage(const Json& body, int status) {
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(status);
}

}  // namespace

std::string ApiResponse::Describe(const std::string& what) const {
  if (status == 0) return what + ": no reply: " + error;
  return what + ": HTTP " + std::to_string(status) + (error.empty() ? "" : ": " + error);
}

void WatchCancel::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (active_) active_->stop();
}

Result<std::unique_ptr<KubeClient>> KubeClient::Create(ClusterConfig config) {
  std::string host;
  int port = 0;
  if (!ParseServer(config.server, host, port)) {
    return Error{"server URL \"" + config.server + "\" is not http(s)://host[:port]"};
  }
  if (config.uses_tls()) {
    if (!config.ca_pem.empty()) {
      X509_STORE* store = StoreFromPem(config.ca_pem);
      if (!store) return Error{"CA data for " + config.server + " holds no PEM certificate"};
      X509_STORE_free(store);
    }
    if (!config.client_cert_pem.empty()) {
      if (!CertFromPem(config.client_cert_pem)) return Error{"client certificate is not PEM"};
      if (!KeyFromPem(config.client_key_pem)) return Error{"client key is not a PEM private key"};
    }
  } else if (!config.client_cert_pem.empty()) {
    return Error{"client certificate given for plain-HTTP server " + config.server};
  }
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(config), host, port));
}

KubeClient::KubeClient(ClusterConfig config, std::string host, int port)
    : config_(std::move(config)), host_(std::move(host)), port_(port) {}

KubeClient::~KubeClient() = default;

std::unique_ptr<httplib::ClientImpl> KubeClient::Connect(int read_timeout_seconds) const {
  std::unique_ptr<httplib::ClientImpl> client;
  if (config_.uses_tls()) {
    std::unique_ptr<httplib::SSLClient> ssl;
    if (!config_.client_cert_pem.empty()) {
      X509Ptr cert = CertFromPem(config_.client_cert_pem);
      PkeyPtr key = KeyFromPem(config_.client_key_pem);
      // SSL_CTX takes its own references; ours are freed on return.
      ssl = std::make_unique<httplib::SSLClient>(host_, port_, cert.get(), key.get());
    } else {
      ssl = std::make_unique<httplib::SSLClient>(host_, port_);
    }
    if (!config_.ca_pem.empty()) ssl->set_ca_cert_store(StoreFromPem(config_.ca_pem));
    ssl->enable_server_certificate_verification(!config_.insecure_skip_verify);
    client = std::move(ssl);
  } else {
    client = std::make_unique<httplib::ClientImpl>(host_, port_);
  }
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(read_timeout_seconds, 0);
  client->set_write_timeout(30, 0);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  return client;
}

std::unique_ptr<httplib::ClientImpl> KubeClient::Acquire() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return Connect(30);
}

void KubeClient::Release(std::unique_ptr<httplib::ClientImpl> connection) {
  std::lock_guard lock(pool_mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
}

std::string KubeClient::BearerToken() {
  if (config_.token_file.empty()) return config_.token;
  std::lock_guard lock(token_mu_);
  int64_t now = SteadySeconds();
  if (cached_token_.empty() || now - token_read_at_ >= kTokenRereadSeconds) {
    std::ifstream in(config_.token_file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string token = buffer.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    if (token.empty()) {
      spdlog::warn("kube: token file {} is empty or unreadable; keeping the previous token",
                   config_.token_file);
    } else {
      cached_token_ = token;
    }
    token_read_at_ = now;
  }
  return cached_token_;
}

ApiResponse KubeClient::Send(const std::string& method, const std::string& path, const Json* body,
                             const std::string& content_type) {
  httplib::Headers headers{{"Accept", "application/json"}, {"User-Agent", "flexai/0.1"}};
  if (std::string token = BearerToken(); !token.empty()) {
    headers.emplace("Authorization", "Bearer " + token);
  }
  std::string payload = body ? body->dump() : std::string();
  auto connection = Acquire();
  httplib::Result result = [&] {
    if (method == "GET") return connection->Get(path, headers);
    if (method == "POST") return connection->Post(path, headers, payload, content_type);
    if (method == "PUT") return connection->Put(path, headers, payload, content_type);
    if (method == "PATCH") return connection->Patch(path, headers, payload, content_type);
    return connection->Delete(path, headers);
  }();
  ApiResponse response;
  if (!result) {
    response.error = httplib::to_string(result.error());
    return response;  // a broken connection is not returned to the pool
  }
  response.status = result->status;
  response.body = Json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (!response.ok()) response.error = StatusMessage(response.body, response.status);
  Release(std::move(connection));
  return response;
}

ApiResponse KubeClient::Get(const std::string& path) { return Send("GET", path, nullptr, ""); }

ApiResponse KubeClient::Post(const std::string& path, const Json& body) {
  return Send("POST", path, &body, "application/json");
}

ApiResponse KubeClient::Put(const std::string& path, const Json& body) {
  return Send("PUT", path, &body, "application/json");
}

ApiResponse KubeClient::MergePatch(const std::string& path, const Json& patch) {
  return Send("PATCH", path, &patch, "application/merge-patch+json");
}

ApiResponse KubeClient::Delete(const std::string& path) {
  return Send("DELETE", path, nullptr, "");
}

WatchResult KubeClient::Watch(const std::string& path,
                              const std::function<bool(WatchEvent)>& on_event, WatchCancel* cancel,
                              int read_timeout_seconds) {
  auto connection = Connect(read_timeout_seconds);
  connection->set_keep_alive(false);
  if (cancel) {
    std::lock_guard lock(cancel->mu_);
    if (cancel->cancelled_) return {WatchEnd::kCancelled, ""};
    cancel->active_ = connection.get();
  }
  httplib::Headers headers{{"Accept", "application/json"}, {"User-Agent", "flexai/0.1"}};
  if (std::string token = BearerToken(); !token.empty()) {
    headers.emplace("Authorization", "Bearer " + token);
  }

  int status = 0;
  std::string pending;     // bytes of an event line not complete yet
  std::string error_body;  // body of a non-200 reply
  WatchResult outcome{WatchEnd::kClosed, ""};
  bool stopped_by_us = false;

  auto on_line = [&](const std::string& line) {
    Json doc = Json::parse(line, nullptr, false);
    if (!doc.is_object() || !doc.contains("type") || !doc["type"].is_string()) {
      spdlog::warn("kube: watch {}: skipping a line that is not a watch event", path);
      return true;
    }
    auto object = doc.find("object");
    WatchEvent event{doc["type"].get<std::string>(),
                     object != doc.end() && object->is_object() ? *object : Json::object()};
    if (event.type == "ERROR") {
      auto c = event.object.find("code");
      int code = c != event.object.end() && c->is_number_integer() ? c->get<int>() : 0;
      outcome = {code == 410 ? WatchEnd::kGone : WatchEnd::kFailed,
                 StatusMessage(event.object, code)};
      return false;
    }
    if (!on_event(std::move(event))) {
      outcome = {WatchEnd::kCancelled, ""};
      return false;
    }
    return true;
  };

  httplib::Result result = connection->Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t size) {
        if (cancel && cancel->cancelled()) {
          outcome = {WatchEnd::kCancelled, ""};
          return false;
        }
        if (status != 200) {
          error_body.append(data, size);
          return error_body.size() < (1 << 20);
        }
        pending.append(data, size);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          if (nl > start && !on_line(pending.substr(start, nl - start))) {
            stopped_by_us = true;
            return false;
          }
        }
        pending.erase(0, start);
        return true;
      });

  if (cancel) {
    std::lock_guard lock(cancel->mu_);
    cancel->active_ = nullptr;
    if (cancel->cancelled_) return {WatchEnd::kCancelled, ""};
  }
  if (stopped_by_us || outcome.end == WatchEnd::kCancelled) return outcome;
  if (status == 410) return {WatchEnd::kGone, "HTTP 410"};
  if (status != 0 && status != 200) {
    Json body = Json::parse(error_body, nullptr, false);
    return {WatchEnd::kFailed,
            "HTTP " + std::to_string(status) + ": " + StatusMessage(body, status)};
  }
  if (!result) {
    // A read timeout or the server closing the stream both end here; a stream that started fine
    // counts as closed (watch again), anything else as a failure.
    if (status == 200 && result.error() == httplib::Error::Read) return outcome;
    return {WatchEnd::kFailed, httplib::to_string(result.error())};
  }
  if (!pending.empty()) on_line(pending);
  return outcome;
}

}  // namespace flexai::kube
