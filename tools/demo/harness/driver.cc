#include "harness/driver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "kube/operations.h"
#include "partition/assignment_codec.h"

namespace flexai::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "default";

std::string PodPath(const std::string& name) {
  return std::string("/api/v1/namespaces/") + kNamespace + "/pods/" + name;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

// (uuid, memory, cores) triples, sorted, for comparing a grant with an assignment.
using Triple = std::tuple<std::string, int64_t, int>;

std::vector<Triple> FromEnv(const std::map<std::string, std::string>& env, std::string& error) {
  auto get = [&](const char* key) {
    auto it = env.find(key);
    return it == env.end() ? std::string() : it->second;
  };
  auto uuids = Split(get("FLEXAI_VISIBLE_DEVICES"));
  auto memory = Split(get("FLEXAI_MEMORY_LIMIT_MIB"));
  auto cores = Split(get("FLEXAI_CORES_LIMIT"));
  std::vector<Triple> out;
  if (uuids.empty() || uuids.size() != memory.size() || uuids.size() != cores.size()) {
    error = "Allocate env is incomplete: FLEXAI_VISIBLE_DEVICES=" + get("FLEXAI_VISIBLE_DEVICES") +
            " FLEXAI_MEMORY_LIMIT_MIB=" + get("FLEXAI_MEMORY_LIMIT_MIB") +
            " FLEXAI_CORES_LIMIT=" + get("FLEXAI_CORES_LIMIT");
    return out;
  }
  for (size_t i = 0; i < uuids.size(); ++i) {
    out.emplace_back(uuids[i], std::stoll(memory[i]), std::stoi(cores[i]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Describe(const std::vector<Triple>& triples) {
  std::string out;
  for (const auto& [u, m, c] : triples) {
    out += (out.empty() ? "" : ",") + u + ":" + std::to_string(m) + ":" + std::to_string(c);
  }
  return out;
}

}  // namespace

std::string DriverReport::Summary() const {
  if (violations.empty() && stuck.empty()) return "ok";
  std::string out;
  for (const auto& v : violations) out += "VIOLATION: " + v + "\n";
  for (const auto& s : stuck) out += "STUCK: " + s + "\n";
  return out;
}

Driver::Driver(Cluster& cluster, DriverOptions options)
    : cluster_(cluster),
      options_(std::move(options)),
      ledger_(cluster.options().chip_memory_mib, options_.max_slices_per_chip),
      urls_(cluster.scheduler_urls()),
      node_names_(cluster.node_names()) {
  for (int i = 0; i < cluster.node_count(); ++i) {
    node_queues_.push_back(std::make_unique<NodeQueue>());
  }
}

Driver::~Driver() { Stop(); }

void Driver::Start() {
  started_at_ = Clock::now();
  threads_.emplace_back([this] { SchedulerLoop(); });
  threads_.emplace_back([this] { CompleterLoop(); });
  threads_.emplace_back([this] { CheckerLoop(); });
  for (int i = 0; i < cluster_.node_count(); ++i) {
    threads_.emplace_back([this, i] { KubeletLoop(i); });
  }
}

void Driver::Stop() {
  stop_ = true;
  changed_.notify_all();
  for (auto& q : node_queues_) q->cv.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

kube::ApiResponse Driver::ApiRetry(const std::function<kube::ApiResponse()>& call,
                                   bool conflict_is_transient) {
  kube::ApiResponse reply;
  for (int attempt = 1; attempt <= 200 && !stop_; ++attempt) {
    reply = call();
    bool transient = reply.status == 0 || reply.status >= 500 || reply.status == 429 ||
                     (reply.conflict() && conflict_is_transient);
    if (!transient) return reply;
    std::this_thread::sleep_for(std::min(std::chrono::milliseconds(20 * attempt), 500ms));
  }
  return reply;
}

void Driver::Submit(const PodPlan& plan) {
  Json object = PodObject(plan, kNamespace);
  auto reply = ApiRetry(
      [&] {
        return cluster_.api().Post(std::string("/api/v1/namespaces/") + kNamespace + "/pods",
                                   object);
      },
      false);
  if (reply.conflict())
    reply = ApiRetry([&] { return cluster_.api().Get(PodPath(plan.name)); }, false);
  std::lock_guard lock(mu_);
  if (!reply.ok()) {
    counters_.violations.push_back("could not create pod " + plan.name + ": " +
                                   reply.Describe("POST pods"));
    return;
  }
  PodState state;
  state.plan = plan;
  state.object = reply.body;
  state.uid = kube::UidOf(reply.body);
  state.created = Clock::now();
  state.next_try = state.created;
  state.backoff = options_.initial_backoff;
  pods_[plan.name] = std::move(state);
  queue_.push_back(plan.name);
  ++counters_.submitted;
  changed_.notify_all();
}

std::optional<Json> Driver::CallExtender(const std::string& verb, const Json& body, bool& refused) {
  refused = false;
  auto t0 = Clock::now();
  struct Timer {
    Driver* self;
    const std::string& verb;
    Clock::time_point t0;
    ~Timer() {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      std::lock_guard lock(self->mu_);
      (verb == "filter" ? self->counters_.filter_ms
       : verb == "bind" ? self->counters_.bind_ms
                        : self->counters_.prioritize_ms) += ms;
    }
  } timer{this, verb, t0};
  for (size_t k = 0; k < urls_.size(); ++k) {
    size_t i = (preferred_url_ + k) % urls_.size();
    HttpReply reply = HttpPostJson(urls_[i], "/" + verb, body, 10000);
    if (reply.status == 200) {
      Json parsed = Json::parse(reply.body, nullptr, false);
      if (parsed.is_discarded()) return std::nullopt;
      preferred_url_ = i;
      return parsed;
    }
    if (reply.status == 503) refused = true;
    // A bind whose connection broke may have happened: never send it to another replica.
    if (verb == "bind" && reply.status == 0) return std::nullopt;
  }
  return std::nullopt;
}

void Driver::Backoff(PodState& pod, const std::string& why) {
  pod.last_error = why;
  pod.next_try = Clock::now() + pod.backoff;
  pod.backoff = std::min(pod.backoff * 2, options_.max_backoff);
  queue_.push_back(pod.plan.name);
}

void Driver::SchedulerLoop() {
  while (!stop_) {
    std::string next;
    {
      std::unique_lock lock(mu_);
      auto now = Clock::now();
      auto it = std::find_if(queue_.begin(), queue_.end(),
                             [&](const std::string& n) { return pods_[n].next_try <= now; });
      if (it == queue_.end()) {
        changed_.wait_for(lock, 10ms);
        continue;
      }
      next = *it;
      queue_.erase(it);
    }
    ScheduleOne(next);
  }
}

void Driver::ScheduleOne(const std::string& name) {
  Json pod_object;
  std::string uid;
  {
    std::lock_guard lock(mu_);
    pod_object = pods_[name].object;
    uid = pods_[name].uid;
  }
  Json args = {{"Pod", pod_object}, {"Nodes", nullptr}, {"NodeNames", node_names_}};
  bool refused = false;
  auto filtered = CallExtender("filter", args, refused);
  {
    std::lock_guard lock(mu_);
    ++counters_.filter_calls;
    PodState& pod = pods_[name];
    if (!filtered || !filtered->value("Error", std::string()).empty()) {
      ++counters_.extender_unreachable;
      if (!pod.clock_started) pod.clock_started = Clock::now();
      Backoff(pod, filtered ? "filter error: " + filtered->value("Error", std::string())
                            : std::string("filter: no hi-scheduler answered"));
      return;
    }
  }
  std::vector<std::string> feasible;
  if ((*filtered)["NodeNames"].is_array()) {
    feasible = (*filtered)["NodeNames"].get<std::vector<std::string>>();
  }
  if (feasible.empty()) {
    std::lock_guard lock(mu_);
    ++counters_.unschedulable_retries;
    std::string why = "unschedulable";
    if ((*filtered)["FailedNodes"].is_object() && !(*filtered)["FailedNodes"].empty()) {
      why += ": " + (*filtered)["FailedNodes"].begin().value().get<std::string>();
    }
    Backoff(pods_[name], why);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!pods_[name].clock_started) pods_[name].clock_started = Clock::now();
  }
  // kube-scheduler ignores a failed prioritize call: then every feasible node scores the same.
  args["NodeNames"] = feasible;
  std::map<std::string, int64_t> scores;
  if (auto prio = CallExtender("prioritize", args, refused); prio && prio->is_array()) {
    for (const auto& hp : *prio) scores[hp.value("Host", "")] = hp.value("Score", 0);
  }
  int64_t best = -1;
  std::vector<std::string> best_nodes;
  for (const auto& n : feasible) {
    int64_t s = scores.count(n) ? scores[n] : 0;
    if (s > best) best_nodes.clear();
    if (s >= best) {
      best = s;
      best_nodes.push_back(n);
    }
  }
  static thread_local std::mt19937 rng(7);
  std::string node =
      best_nodes[std::uniform_int_distribution<size_t>(0, best_nodes.size() - 1)(rng)];

  if (options_.on_bind_start) options_.on_bind_start(name);
  Json bind_args = {
      {"PodName", name}, {"PodNamespace", kNamespace}, {"PodUID", uid}, {"Node", node}};
  auto bound = CallExtender("bind", bind_args, refused);
  {
    std::lock_guard lock(mu_);
    ++counters_.bind_calls;
  }
  if (bound && bound->value("Error", std::string()).empty()) {
    MarkBound(name, node);
    return;
  }
  // The informer would show a bind that happened although the answer was lost.
  auto current = ApiRetry([&] { return cluster_.api().Get(PodPath(name)); }, false);
  std::string actual;
  if (current.ok() && current.body["spec"].contains("nodeName")) {
    actual = current.body["spec"].value("nodeName", "");
  }
  if (!actual.empty()) {
    MarkBound(name, actual);
    return;
  }
  std::lock_guard lock(mu_);
  ++counters_.bind_errors;
  Backoff(pods_[name], bound ? "bind: " + bound->value("Error", std::string())
                             : std::string(refused ? "bind: refused by every replica (503)"
                                                   : "bind: no answer"));
}

void Driver::MarkBound(const std::string& name, const std::string& node) {
  int index = static_cast<int>(std::find(node_names_.begin(), node_names_.end(), node) -
                               node_names_.begin());
  {
    std::lock_guard lock(mu_);
    PodState& pod = pods_[name];
    pod.stage = Stage::kBound;
    pod.node = node;
    pod.last_error.clear();
    ++counters_.bound;
    if (index >= static_cast<int>(node_names_.size())) {
      counters_.violations.push_back(name + " bound to unknown node " + node);
      return;
    }
  }
  NodeQueue& q = *node_queues_[index];
  std::lock_guard lock(q.mu);
  q.pods.push_back(name);
  q.cv.notify_all();
}

void Driver::KubeletLoop(int node) {
  NodeQueue& q = *node_queues_[node];
  while (!stop_) {
    std::string name;
    {
      std::unique_lock lock(q.mu);
      if (q.pods.empty()) {
        q.cv.wait_for(lock, 50ms);
        continue;
      }
      name = q.pods.front();
      q.pods.pop_front();
    }
    if (!AdmitOne(node, name)) {
      std::this_thread::sleep_for(50ms);
      std::lock_guard lock(q.mu);
      q.pods.push_back(name);
    }
  }
}

// Slices get the mode of the node they run on (which the pod's flexai.io/isolation, if any, must
// have asked for); whole chips are never enforced.
void Driver::CheckIsolation(const std::string& what, int node, const PodPlan& plan,
                            const std::map<std::string, bool>& exclusive,
                            const std::map<std::string, std::string>& env) {
  if (exclusive.empty()) return;  // no grants known: the chip comparison reported it already
  bool slices = std::any_of(exclusive.begin(), exclusive.end(),
                            [](const auto& chip) { return !chip.second; });
  std::string want = slices ? cluster_.isolation_of(node) : "none";
  auto get = [&](const char* key) {
    auto it = env.find(key);
    return it == env.end() ? std::string("(unset)") : it->second;
  };
  const std::string mode = get("FLEXAI_ISOLATION");
  if (mode != want) {
    Violation(what + " on " + node_names_[node] + ": FLEXAI_ISOLATION=" + mode + ", expected " +
              want);
  }
  // MPS slices must also get what MPS enforces: the pipe and a memory limit.
  if (mode == "mps" && (get("CUDA_MPS_PIPE_DIRECTORY") == "(unset)" ||
                        get("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT") == "(unset)")) {
    Violation(what +
              " runs mps without CUDA_MPS_PIPE_DIRECTORY or CUDA_MPS_PINNED_DEVICE_MEM_LIMIT");
  }
  auto asked = plan.annotations.find("flexai.io/isolation");
  if (slices && asked != plan.annotations.end() && !asked->second.empty() &&
      asked->second != mode) {
    Violation(what + " asked flexai.io/isolation=" + asked->second + " but runs " + mode + " on " +
              node_names_[node]);
  }
}

bool Driver::AdmitOne(int node, const std::string& name) {
  PodPlan plan;
  std::string uid;
  size_t done = 0;
  {
    std::lock_guard lock(mu_);
    plan = pods_[name].plan;
    uid = pods_[name].uid;
    done = pods_[name].grants.size();
  }
  SimKubelet& kubelet = cluster_.node(node).kubelet;
  for (size_t i = done; i < plan.containers.size(); ++i) {
    ContainerGrant grant;
    std::string error;
    if (!kubelet.AllocateContainer(uid, plan.containers[i].gpus, grant, error)) {
      std::lock_guard lock(mu_);
      pods_[name].last_error = "c" + std::to_string(i) + ": " + error;
      ++counters_.allocate_retries;
      return false;
    }
    std::lock_guard lock(mu_);
    pods_[name].grants.push_back(std::move(grant));
  }
  std::vector<ContainerGrant> grants;
  {
    std::lock_guard lock(mu_);
    grants = pods_[name].grants;
  }
  // What Allocate handed out must be exactly what hi-scheduler wrote on this pod.
  auto current = ApiRetry([&] { return cluster_.api().Get(PodPath(name)); }, false);
  std::string text = kube::AnnotationOf(current.body, "flexai.io/assignment");
  auto assignment = partition::DecodeAssignment(text, uid);
  std::vector<Slice> slices;
  if (!assignment.ok()) {
    Violation(name + " admitted but its assignment does not decode (" + text + ")");
  } else {
    for (size_t i = 0; i < grants.size(); ++i) {
      std::string error;
      auto got = FromEnv(grants[i].env, error);
      if (!error.empty()) {
        Violation(name + "/c" + std::to_string(i) + ": " + error);
        continue;
      }
      std::vector<Triple> want;
      std::map<std::string, bool> exclusive;
      for (const auto& c : assignment->containers) {
        if (c.container != "c" + std::to_string(i)) continue;
        for (const auto& g : c.grants) {
          want.emplace_back(g.chip_uuid, g.memory_mib, g.cores);
          exclusive[g.chip_uuid] = g.exclusive;
        }
      }
      std::sort(want.begin(), want.end());
      if (got != want) {
        Violation(name + "/c" + std::to_string(i) + " on " + node_names_[node] +
                  ": Allocate gave " + Describe(got) + " but hi-scheduler assigned " +
                  Describe(want));
      }
      for (const auto& [u, m, c] : got) slices.push_back({u, m, c, exclusive[u]});
      CheckIsolation(name + "/c" + std::to_string(i), node, plan, exclusive, grants[i].env);
    }
    if (assignment->node != node_names_[node]) {
      Violation(name + " admitted on " + node_names_[node] + " but assigned to " +
                assignment->node);
    }
  }
  for (const auto& problem : ledger_.Add(name, slices)) Violation(problem);
  auto patched = ApiRetry(
      [&] {
        return cluster_.api().MergePatch(PodPath(name) + "/status",
                                         {{"status", {{"phase", "Running"}}}});
      },
      true);
  if (!patched.ok()) spdlog::warn("{}", patched.Describe("PATCH " + name + " Running"));
  std::lock_guard lock(mu_);
  PodState& pod = pods_[name];
  pod.stage = Stage::kRunning;
  pod.admitted = Clock::now();
  ++counters_.admitted;
  counters_.create_to_admit_ms.push_back(
      std::chrono::duration<double, std::milli>(*pod.admitted - pod.created).count());
  completions_.emplace(*pod.admitted + pod.plan.run_for, name);
  if (options_.log_progress) spdlog::info("{} running on {}", name, node_names_[node]);
  changed_.notify_all();
  return true;
}

void Driver::CompleterLoop() {
  while (!stop_) {
    std::string name;
    int node = 0;
    std::string uid;
    {
      std::unique_lock lock(mu_);
      if (completions_.empty() || completions_.begin()->first > Clock::now()) {
        changed_.wait_for(lock, 10ms);
        continue;
      }
      name = completions_.begin()->second;
      completions_.erase(completions_.begin());
      uid = pods_[name].uid;
      node = static_cast<int>(std::find(node_names_.begin(), node_names_.end(), pods_[name].node) -
                              node_names_.begin());
    }
    // Out of the ledger before the API server hears of it: the room may be reused at once.
    ledger_.Remove(name);
    cluster_.node(node).kubelet.Release(uid);
    auto patched = ApiRetry(
        [&] {
          return cluster_.api().MergePatch(PodPath(name) + "/status",
                                           {{"status", {{"phase", "Succeeded"}}}});
        },
        true);
    std::lock_guard lock(mu_);
    if (!patched.ok()) {
      counters_.violations.push_back(patched.Describe("PATCH " + name + " Succeeded"));
    }
    pods_[name].stage = Stage::kSucceeded;
    ++counters_.succeeded;
    changed_.notify_all();
  }
}

void Driver::CheckerLoop() {
  while (!stop_) {
    {
      std::unique_lock lock(mu_);
      changed_.wait_for(lock, 200ms);
      auto now = Clock::now();
      for (auto& [name, pod] : pods_) {
        if (pod.admitted || pod.reported_stuck || !pod.clock_started) continue;
        if (now - *pod.clock_started > options_.stuck_after) {
          pod.reported_stuck = true;
          counters_.stuck.push_back(name + " not running " +
                                    std::to_string(options_.stuck_after.count()) +
                                    " s after a node fitted it (node '" + pod.node +
                                    "', last error: " + pod.last_error + ")");
        }
      }
    }
  }
}

void Driver::Violation(const std::string& what) {
  spdlog::error("violation: {}", what);
  std::lock_guard lock(mu_);
  counters_.violations.push_back(what);
}

bool Driver::WaitAllSucceeded(std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout,
                           [&] { return counters_.succeeded == counters_.submitted; });
}

int Driver::running() const {
  std::lock_guard lock(mu_);
  return counters_.admitted - counters_.succeeded;
}

std::string Driver::Unfinished() const {
  std::lock_guard lock(mu_);
  std::string out;
  int shown = 0;
  for (const auto& [name, pod] : pods_) {
    if (pod.stage == Stage::kSucceeded) continue;
    if (++shown > 20) {
      out += "...\n";
      break;
    }
    const char* stage = pod.stage == Stage::kPending ? "pending"
                        : pod.stage == Stage::kBound ? "bound"
                                                     : "running";
    out += name + ": " + stage + (pod.node.empty() ? "" : " on " + pod.node) +
           (pod.last_error.empty() ? "" : " (" + pod.last_error + ")") + "\n";
  }
  return out;
}

DriverReport Driver::Report() const {
  std::lock_guard lock(mu_);
  DriverReport r = counters_;
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - started_at_).count();
  std::optional<Clock::time_point> first, last;
  for (const auto& [name, pod] : pods_) {
    if (!first || pod.created < *first) first = pod.created;
    if (pod.admitted && (!last || *pod.admitted > *last)) last = pod.admitted;
  }
  if (first && last)
    r.first_create_to_last_admit_s = std::chrono::duration<double>(*last - *first).count();
  return r;
}

}  // namespace flexai::e2e
