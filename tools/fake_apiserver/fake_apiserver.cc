#include "fake_apiserver.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "kube/operations.h"

namespace flexai::fake {
namespace {

// Enough threads for every watch stream a test or a small demo cluster keeps open.
constexpr size_t kServerThreads = 64;

void Send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body.dump(), "application/json");
}

struct ResourcePath {
  const ResourceType* type = nullptr;
  std::string ns, name, sub;
};

// /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]] and /apis/GROUP/VERSION/... ; false when the
// path names no served resource.
bool ParseResourcePath(const std::string& path, ResourcePath& out) {
  static const std::regex kCore(
      R"(^/api/(v1)/(?:namespaces/([^/]+)/)?([a-z0-9]+)(?:/([^/]+))?(?:/([a-z]+))?$)");
  static const std::regex kGroup(
      R"(^/apis/([^/]+)/([^/]+)/(?:namespaces/([^/]+)/)?([a-z0-9]+)(?:/([^/]+))?(?:/([a-z]+))?$)");
  std::smatch m;
  std::string group, version;
  if (std::regex_match(path, m, kCore)) {
    version = m[1];
    out.ns = m[2];
    out.type = FindResource("", version, m[3]);
    out.name = m[4];
    out.sub = m[5];
  } else if (std::regex_match(path, m, kGroup)) {
    group = m[1];
    version = m[2];
    out.ns = m[3];
    out.type = FindResource(group, version, m[4]);
    out.name = m[5];
    out.sub = m[6];
  } else {
    return false;
  }
  if (!out.type) return false;
  if (!out.type->namespaced && !out.ns.empty()) return false;
  if (!out.sub.empty()) {
    const auto& subs = out.type->subresources;
    if (std::find(subs.begin(), subs.end(), out.sub) == subs.end()) return false;
  }
  return true;
}

bool IsTrue(const std::string& v) { return v == "1" || v == "true"; }

std::string Param(const httplib::Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : "";
}

std::string EventLine(const std::string& type, const Json& object) {
  return Json{{"type", type}, {"object", object}}.dump() + "\n";
}

}  // namespace

const ResourceType* ResourceByPlural(const std::string& plural) {
  for (const auto& t : ResourceTypes()) {
    if (t.plural == plural) return &t;
  }
  return nullptr;
}

FakeApiServer::FakeApiServer() : server_(std::make_unique<httplib::Server>()) {
  // httplib's API wants a raw pointer it then owns.
  server_->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server_->set_payload_max_length(16 << 20);
  // Small request/response pairs (patch, binding) would otherwise wait on Nagle + delayed ACK.
  server_->set_tcp_nodelay(true);
  Route();
}

FakeApiServer::~FakeApiServer() { Stop(); }

Result<int> FakeApiServer::Start(const std::string& host, int port) {
  host_ = host;
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0)
    return Error{"fake apiserver cannot listen on " + host + ":" + std::to_string(port)};
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Stop() before the accept loop runs would be lost; wait for it (httplib 0.11 has no
  // wait_until_ready).
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port_;
}

void FakeApiServer::Stop() {
  if (stopping_.exchange(true)) return;
  store_.Shutdown();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void FakeApiServer::Wait() {
  if (thread_.joinable()) thread_.join();
}

std::string FakeApiServer::url() const { return "http://" + host_ + ":" + std::to_string(port_); }

Status FakeApiServer::LoadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"cannot read state file " + path};
  std::stringstream buffer;
  buffer << in.rdbuf();
  Json doc = Json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded()) return Error{path + ": not valid JSON"};
  Json items = doc.is_array() ? doc : Json::array();
  if (doc.is_object() && doc.contains("items") && doc["items"].is_array()) items = doc["items"];
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& item = items[i];
    std::string kind = kube::StringAt(item, "kind");
    std::string api_version = kube::StringAt(item, "apiVersion", "v1");
    const ResourceType* type = nullptr;
    for (const auto& t : ResourceTypes()) {
      if (t.kind == kind && t.group_version() == api_version) type = &t;
    }
    if (!type)
      return Error{path + ": items[" + std::to_string(i) + "]: kind " + kind + " (" + api_version +
                   ") is not served"};
    std::string ns = kube::NamespaceOf(item);
    if (type->namespaced && ns.empty()) ns = "default";
    Reply r = store_.Create(*type, ns, item);
    if (r.status >= 300) {
      return Error{path + ": items[" + std::to_string(i) +
                   "]: " + kube::StringAt(r.body, "message")};
    }
  }
  return Status::Ok();
}

Reply FakeApiServer::Create(const std::string& plural, const std::string& ns, const Json& object) {
  return store_.Create(*ResourceByPlural(plural), ns, object);
}
Reply FakeApiServer::Get(const std::string& plural, const std::string& ns,
                         const std::string& name) {
  return store_.Get(*ResourceByPlural(plural), ns, name);
}
Reply FakeApiServer::MergePatch(const std::string& plural, const std::string& ns,
                                const std::string& name, const Json& patch) {
  return store_.Patch(*ResourceByPlural(plural), ns, name, patch, "application/merge-patch+json");
}
Reply FakeApiServer::Delete(const std::string& plural, const std::string& ns,
                            const std::string& name) {
  return store_.Delete(*ResourceByPlural(plural), ns, name);
}

void FakeApiServer::InjectFaults(const Faults& faults) {
  std::lock_guard lock(faults_mu_);
  faults_ = faults;
}

Faults FakeApiServer::faults() const {
  std::lock_guard lock(faults_mu_);
  return faults_;
}

int FakeApiServer::request_count(const std::string& method) const {
  std::lock_guard lock(faults_mu_);
  auto it = request_counts_.find(method);
  return it == request_counts_.end() ? 0 : it->second;
}

bool FakeApiServer::TakeFault(int Faults::*counter) {
  std::lock_guard lock(faults_mu_);
  if (faults_.*counter <= 0) return false;
  --(faults_.*counter);
  return true;
}

void FakeApiServer::Route() {
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    const std::string& path = req.path;
    int latency = 0;
    {
      std::lock_guard lock(faults_mu_);
      ++request_counts_[req.method];
      latency = faults_.latency_ms;
    }
    // ---- fault-injection API (not part of Kubernetes) ----
    if (path == "/fake/faults") {
      if (req.method == "GET") {
        Faults f = faults();
        res.set_content(Json{{"patchConflicts", f.patch_conflicts},
                             {"watchGone", f.watch_gone},
                             {"serverErrors", f.server_errors},
                             {"latencyMs", f.latency_ms},
                             {"bindingErrors", f.binding_errors}}
                            .dump(),
                        "application/json");
        return;
      }
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object()) {
        Send(res, StatusReply(400, "BadRequest", "faults body must be a JSON object"));
        return;
      }
      Faults f;
      f.patch_conflicts = static_cast<int>(kube::IntAt(body, "patchConflicts"));
      f.watch_gone = static_cast<int>(kube::IntAt(body, "watchGone"));
      f.server_errors = static_cast<int>(kube::IntAt(body, "serverErrors"));
      f.latency_ms = static_cast<int>(kube::IntAt(body, "latencyMs"));
      f.binding_errors = static_cast<int>(kube::IntAt(body, "bindingErrors"));
      InjectFaults(f);
      Send(res, StatusReply(200, "", "faults set"));
      return;
    }
    if (path == "/fake/compact") {
      store_.Compact();
      Send(res, StatusReply(200, "", "history compacted"));
      return;
    }
    if (latency > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency));

    // ---- health, version and discovery ----
    if (path == "/healthz" || path == "/livez" || path == "/readyz") {
      res.set_content("ok", "text/plain");
      return;
    }
    if (req.method == "GET") {
      if (path == "/version") return Send(res, {200, VersionInfo()});
      if (path == "/api")
        return Send(res, {200, CoreApiVersions(host_ + ":" + std::to_string(port_))});
      if (path == "/apis") return Send(res, {200, ApiGroupList()});
      if (path == "/api/v1") return Send(res, {200, ApiResourceList("", "v1")});
      static const std::regex kGroupVersion(R"(^/apis/([^/]+)/([^/]+)$)");
      static const std::regex kGroupOnly(R"(^/apis/([^/]+)$)");
      std::smatch m;
      if (std::regex_match(path, m, kGroupVersion)) {
        Json list = ApiResourceList(m[1], m[2]);
        if (!list.is_null()) return Send(res, {200, list});
      } else if (std::regex_match(path, m, kGroupOnly)) {
        for (const auto& g : ApiGroupList()["groups"]) {
          if (g["name"] == m[1].str()) {
            Json group = g;
            group["kind"] = "APIGroup";
            group["apiVersion"] = "v1";
            return Send(res, {200, group});
          }
        }
      }
    }

    ResourcePath rp;
    if (!ParseResourcePath(path, rp)) {
      return Send(res,
                  StatusReply(404, "NotFound", "the server could not find the requested resource"));
    }
    if (TakeFault(&Faults::server_errors)) {
      return Send(res, StatusReply(500, "InternalError", "injected server error"));
    }
    const ResourceType& type = *rp.type;
    bool collection = rp.name.empty();

    if (req.method == "GET" && collection && IsTrue(Param(req, "watch"))) {
      ++watches_;
      struct WatchState {
        int64_t rv = 0;
        bool gone = false;
        bool bookmarks = false;
        std::vector<Json> initial;
        Selector labels, fields;
        std::string ns;
        std::chrono::steady_clock::time_point deadline, last_write;
      };
      auto state = std::make_shared<WatchState>();
      state->ns = rp.ns;
      state->labels = ParseSelector(Param(req, "labelSelector"));
      state->fields = ParseSelector(Param(req, "fieldSelector"));
      state->bookmarks = IsTrue(Param(req, "allowWatchBookmarks"));
      int timeout = 1800;
      if (std::string t = Param(req, "timeoutSeconds"); !t.empty()) timeout = std::atoi(t.c_str());
      auto now = std::chrono::steady_clock::now();
      state->deadline = now + std::chrono::seconds(timeout > 0 ? timeout : 1800);
      state->last_write = now;
      std::string rv = Param(req, "resourceVersion");
      if (TakeFault(&Faults::watch_gone)) {
        state->gone = true;
      } else if (rv.empty() || rv == "0") {
        // No version: the current objects arrive as ADDED, then changes from now on.
        state->rv = store_.current_rv();
        for (auto& o : store_.Snapshot(type, rp.ns)) {
          if (MatchesLabels(state->labels, o) && MatchesFields(state->fields, o)) {
            state->initial.push_back(std::move(o));
          }
        }
      } else {
        char* end = nullptr;
        state->rv = std::strtoll(rv.c_str(), &end, 10);
        if (!end || *end != '\0') {
          return Send(res, StatusReply(400, "BadRequest",
                                       "resourceVersion \"" + rv + "\" is not a number"));
        }
      }
      const ResourceType* t = &type;
      // A parameter on the media type keeps httplib from gzip-buffering the stream (it compresses
      // only exact "application/json"); clients parse the base type.
      res.set_chunked_content_provider(
          "application/json;stream=watch", [this, state, t](size_t, httplib::DataSink& sink) {
            if (stopping_) return false;
            auto write = [&](const std::string& line) {
              state->last_write = std::chrono::steady_clock::now();
              return sink.write(line.data(), line.size());
            };
            std::vector<StoredEvent> events;
            int64_t now_rv = store_.current_rv();
            if (state->gone || !store_.EventsSince(*t, state->rv, events)) {
              write(EventLine("ERROR",
                              StatusReply(410, "Expired",
                                          "too old resource version: " + std::to_string(state->rv))
                                  .body));
              sink.done();
              return true;
            }
            for (auto& o : state->initial) {
              if (!write(EventLine("ADDED", o))) return false;
            }
            state->initial.clear();
            for (const auto& e : events) {
              state->rv = e.rv;
              const Json& o = e.object;
              std::string ns = kube::NamespaceOf(o);
              if (!state->ns.empty() && ns != state->ns) continue;
              if (!MatchesLabels(state->labels, o) || !MatchesFields(state->fields, o)) continue;
              if (!write(EventLine(e.type_name, o))) return false;
            }
            state->rv = std::max(state->rv, now_rv);
            auto now = std::chrono::steady_clock::now();
            if (now >= state->deadline) {
              sink.done();
              return true;
            }
            if (state->bookmarks && now - state->last_write >= bookmark_interval_) {
              Json mark = {{"kind", t->kind},
                           {"apiVersion", t->group_version()},
                           {"metadata", {{"resourceVersion", std::to_string(state->rv)}}}};
              if (!write(EventLine("BOOKMARK", mark))) return false;
            }
            store_.WaitForChange(state->rv, std::chrono::milliseconds(250));
            return true;
          });
      return;
    }

    Json body;
    if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      body = Json::parse(req.body, nullptr, false);
      if (body.is_discarded()) {
        return Send(res, StatusReply(400, "BadRequest", "request body is not valid JSON"));
      }
    }
    if (req.method == "GET") {
      if (collection) {
        int64_t limit = std::atoll(Param(req, "limit").c_str());
        return Send(res, store_.List(type, rp.ns, ParseSelector(Param(req, "labelSelector")),
                                     ParseSelector(Param(req, "fieldSelector")), limit,
                                     Param(req, "continue")));
      }
      return Send(res, store_.Get(type, rp.ns, rp.name));
    }
    if (req.method == "POST") {
      if (rp.sub == "binding") {
        if (TakeFault(&Faults::binding_errors)) {
          return Send(res, StatusReply(500, "InternalError", "injected binding error"));
        }
        return Send(res, store_.Bind(rp.ns, rp.name, body));
      }
      if (!collection) return Send(res, StatusReply(405, "MethodNotAllowed", "POST to an object"));
      if (type.namespaced && rp.ns.empty()) {
        return Send(res,
                    StatusReply(400, "BadRequest", "namespace required to create " + type.plural));
      }
      return Send(res, store_.Create(type, rp.ns, std::move(body)));
    }
    if (collection)
      return Send(res, StatusReply(405, "MethodNotAllowed", req.method + " on a collection"));
    if (req.method == "PUT")
      return Send(res, store_.Replace(type, rp.ns, rp.name, std::move(body)));
    if (req.method == "PATCH") {
      std::string content_type = req.get_header_value("Content-Type");
      if (content_type.find("apply-patch") != std::string::npos) {
        return Send(res, StatusReply(415, "UnsupportedMediaType",
                                     "server-side apply is not supported by the fake apiserver"));
      }
      if (TakeFault(&Faults::patch_conflicts)) {
        return Send(res, StatusReply(409, "Conflict",
                                     "Operation cannot be fulfilled on " + type.plural + " \"" +
                                         rp.name + "\": injected conflict"));
      }
      return Send(res, store_.Patch(type, rp.ns, rp.name, body, content_type));
    }
    if (req.method == "DELETE") return Send(res, store_.Delete(type, rp.ns, rp.name));
    Send(res, StatusReply(405, "MethodNotAllowed", req.method + " is not supported"));
  };
  // Objects of unexpected shape (a string where an object belongs) make the JSON library throw:
  // answer 400 like the real server's validation would, never crash.
  auto guarded = [handle](const httplib::Request& req, httplib::Response& res) {
    try {
      handle(req, res);
    } catch (const Json::exception& e) {
      Send(res, StatusReply(400, "BadRequest", std::string("malformed object: ") + e.what()));
    }
  };
  server_->Get(R"(/.*)", guarded);
  server_->Post(R"(/.*)", guarded);
  server_->Put(R"(/.*)", guarded);
  server_->Patch(R"(/.*)", guarded);
  server_->Delete(R"(/.*)", guarded);
}

}  // namespace flexai::fake
