#include "harness/cluster.h"

#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "kube/config.h"

namespace flexai::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Slices are not enforced (no GPU here), except on the nodes of the mps pool.
constexpr const char* kPolicy =
    "apiVersion: flexai.io/v1\n"
    "kind: SlicePolicy\n"
    "sharing:\n"
    "  isolationMode: none\n"
    "nodeOverrides:\n"
    "  - selector:\n"
    "      matchLabels:\n"
    "        flexai.io/pool: mps\n"
    "    isolationMode: mps\n";

std::unique_ptr<httplib::Client> ClientFor(const std::string& base_url, int timeout_ms) {
  auto client = std::make_unique<httplib::Client>(base_url);
  client->set_connection_timeout(0, timeout_ms * 1000);
  client->set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  client->set_write_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  return client;
}

std::string SimConfig(const std::string& node, int chips, int64_t memory_mib) {
  std::string text = "vendor: sim\nchips:\n";
  for (int i = 0; i < chips; ++i) {
    text += "  - {uuid: GPU-" + node + "-" + std::to_string(i) +
            ", model: H100, memoryMiB: " + std::to_string(memory_mib) +
            ", numa: " + std::to_string(i * 2 / std::max(chips, 1)) +
            ", linkGroup: " + std::to_string(i * 2 / std::max(chips, 1)) + "}\n";
  }
  return text;
}

}  // namespace

HttpReply HttpGet(const std::string& base_url, const std::string& path, int timeout_ms) {
  auto client = ClientFor(base_url, timeout_ms);
  auto res = client->Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

HttpReply HttpPostJson(const std::string& base_url, const std::string& path, const Json& body,
                       int timeout_ms) {
  auto client = ClientFor(base_url, timeout_ms);
  auto res = client->Post(path.c_str(), body.dump(), "application/json");
  if (!res) return {};
  return {res->status, res->body};
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  if (options_.keep_dir) dir_.keep();
  if (options_.schedulers > 1) options_.leader_elect = true;
}

Cluster::~Cluster() {
  // Schedulers and plugins first, so nothing logs connection errors about a vanished apiserver.
  for (auto& s : schedulers_) {
    if (s) s->Terminate(2s);
  }
  for (auto& n : nodes_) {
    if (n->plugin) n->plugin->Terminate(2s);
    n->kubelet.Shutdown();
  }
  if (apiserver_) apiserver_->Terminate(2s);
}

std::vector<std::string> Cluster::node_names() const {
  std::vector<std::string> names;
  for (const auto& n : nodes_) names.push_back(n->name);
  return names;
}

std::string Cluster::isolation_of(int node) const {
  return node < options_.mps_nodes ? "mps" : "none";
}

std::string Cluster::chip_uuid(int node, int chip) const {
  return "GPU-" + nodes_[node]->name + "-" + std::to_string(chip);
}

Status Cluster::Start() {
  WriteFileAtomically(dir_.File("policy.yaml"), kPolicy);
  if (auto s = StartApiServer(); !s.ok()) return s;
  std::ofstream(dir_.File("kubeconfig"))
      << "apiVersion: v1\nkind: Config\n"
      << "clusters: [{name: fake, cluster: {server: \"" << api_url_ << "\"}}]\n"
      << "users: [{name: e2e, user: {}}]\n"
      << "contexts: [{name: e2e, context: {cluster: fake, user: e2e}}]\n"
      << "current-context: e2e\n";
  auto client = kube::KubeClient::Create(kube::PlainServerConfig(api_url_));
  if (!client.ok()) return Error{client.error().message};
  api_ = std::move(*client);
  if (auto s = CreateNodes(); !s.ok()) return s;
  for (int i = 0; i < node_count(); ++i) {
    nodes_[i]->kubelet.Start();
    StartDevicePlugin(i);
  }
  for (int i = 0; i < node_count(); ++i) {
    if (!WaitRegistered(i, 0, 30s)) {
      return Error{"device plugin of " + nodes_[i]->name + " never registered:\n" +
                   nodes_[i]->plugin->LogTail()};
    }
  }
  if (auto s = WaitInventories(30s); !s.ok()) return s;
  for (int i = 0; i < options_.schedulers; ++i) {
    scheduler_ports_.push_back(FreePort());
    schedulers_.emplace_back();
    StartScheduler(i);
  }
  for (int i = 0; i < options_.schedulers; ++i) {
    if (auto s = WaitSchedulerReady(i); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Cluster::StartApiServer() {
  std::string log = dir_.File("apiserver.log");
  apiserver_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{options_.bin.apiserver, "--listen", "127.0.0.1:0"}, log);
  static const std::regex kListening(R"(listening on (http://127\.0\.0\.1:\d+))");
  auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadFile(log);
    if (std::regex_search(text, m, kListening)) {
      api_url_ = m[1];
      return Status::Ok();
    }
    if (!apiserver_->running()) break;
    std::this_thread::sleep_for(20ms);
  }
  return Error{"flexai-fake-apiserver did not start:\n" + apiserver_->LogTail()};
}

Status Cluster::CreateNodes() {
  for (int i = 0; i < options_.nodes; ++i) {
    std::string name = "node" + std::to_string(i);
    std::string dir = dir_.File(name);
    std::filesystem::create_directories(dir);
    WriteFileAtomically(dir + "/sim.yaml",
                        SimConfig(name, options_.chips_per_node, options_.chip_memory_mib));
    nodes_.push_back(std::make_unique<SimNode>(name, dir));
    Json labels = {{"kubernetes.io/hostname", name}};
    if (i < options_.mps_nodes) labels["flexai.io/pool"] = "mps";
    Json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", labels}}},
                 {"status",
                  {{"capacity", {{"cpu", "64"}, {"memory", "512Gi"}, {"pods", "110"}}},
                   {"allocatable", {{"cpu", "64"}, {"memory", "512Gi"}, {"pods", "110"}}},
                   {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
    auto reply = api_->Post("/api/v1/nodes", node);
    if (!reply.ok()) return Error{reply.Describe("POST /api/v1/nodes")};
  }
  return Status::Ok();
}

Status Cluster::WaitInventories(std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string missing;
  while (Clock::now() < deadline) {
    missing.clear();
    auto list = api_->Get("/api/v1/nodes");
    if (list.ok()) {
      for (const auto& n : list.body["items"]) {
        const Json& meta = n["metadata"];
        if (!meta.contains("annotations") || !meta["annotations"].contains("flexai.io/inventory")) {
          missing += " " + meta.value("name", "?");
        }
      }
      if (missing.empty()) return Status::Ok();
    }
    std::this_thread::sleep_for(100ms);
  }
  return Error{"no flexai inventory published on:" + missing};
}

void Cluster::StartDevicePlugin(int i) {
  SimNode& n = *nodes_[i];
  n.plugin = std::make_unique<ChildProcess>(
      std::vector<std::string>{options_.bin.device_plugin, "--backend", "sim", "--sim-config",
                               n.dir + "/sim.yaml", "--device-plugin-dir", n.dir, "--node-name",
                               n.name, "--kubeconfig", kubeconfig(), "--policy",
                               dir_.File("policy.yaml"), "--metrics-listen", "", "--log-level",
                               options_.log_level},
      dir_.File(n.name + "-plugin.log"));
}

void Cluster::KillDevicePlugin(int i) {
  if (nodes_[i]->plugin) nodes_[i]->plugin->Kill();
}
void Cluster::PauseDevicePlugin(int i) { nodes_[i]->plugin->Signal(SIGSTOP); }
void Cluster::ResumeDevicePlugin(int i) { nodes_[i]->plugin->Signal(SIGCONT); }
void Cluster::RestartKubelet(int i) { nodes_[i]->kubelet.Restart(); }

bool Cluster::WaitRegistered(int i, int previous, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (nodes_[i]->kubelet.registrations() > previous) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::vector<std::string> Cluster::scheduler_urls() const {
  std::vector<std::string> urls;
  for (int port : scheduler_ports_) urls.push_back("http://127.0.0.1:" + std::to_string(port));
  return urls;
}

void Cluster::StartScheduler(int i) {
  std::vector<std::string> argv = {options_.bin.scheduler,
                                   "--kubeconfig",
                                   kubeconfig(),
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(scheduler_ports_[i]),
                                   "--policy",
                                   dir_.File("policy.yaml"),
                                   "--node-stale-seconds",
                                   std::to_string(options_.node_stale_seconds),
                                   "--log-level",
                                   options_.log_level};
  if (options_.leader_elect) {
    argv.insert(argv.end(), {"--leader-elect", "--lease-namespace", "kube-system"});
  }
  schedulers_[i] =
      std::make_unique<ChildProcess>(argv, dir_.File("hi-scheduler-" + std::to_string(i) + ".log"));
}

void Cluster::KillScheduler(int i) {
  if (schedulers_[i]) schedulers_[i]->Kill();
}

bool Cluster::scheduler_running(int i) { return schedulers_[i] && schedulers_[i]->running(); }

Status Cluster::WaitSchedulerReady(int i, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string url = scheduler_urls()[i];
  double want = static_cast<double>(options_.nodes) * options_.chips_per_node;
  while (Clock::now() < deadline) {
    if (!scheduler_running(i)) break;
    if (HttpGet(url, "/readyz", 1000).status == 200 && SchedulerGauge(i, "chips") >= want) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(50ms);
  }
  return Error{"hi-scheduler " + std::to_string(i) + " not ready:\n" + schedulers_[i]->LogTail()};
}

int Cluster::LeaderIndex() {
  static const std::regex kLeader(R"(\nflexai_extender_leader(\{[^}]*\})? ([0-9.eE+-]+))");
  for (int i = 0; i < static_cast<int>(schedulers_.size()); ++i) {
    if (!scheduler_running(i)) continue;
    auto reply = HttpGet(scheduler_urls()[i], "/metrics", 2000);
    std::smatch m;
    std::string text = "\n" + reply.body;
    if (reply.status == 200 && std::regex_search(text, m, kLeader) && std::stod(m[2]) == 1.0) {
      return i;
    }
  }
  return -1;
}

double Cluster::SchedulerGauge(int i, const std::string& quantity) {
  auto reply = HttpGet(scheduler_urls()[i], "/metrics", 2000);
  if (reply.status != 200) return -1;
  std::regex line("\\nflexai_cluster\\{quantity=\"" + quantity + "\"\\} ([0-9.eE+-]+)");
  std::smatch m;
  std::string text = "\n" + reply.body;
  if (!std::regex_search(text, m, line)) return -1;
  return std::stod(m[1]);
}

Status Cluster::SetFaults(const Json& faults) {
  auto reply = HttpPostJson(api_url_, "/fake/faults", faults, 5000);
  if (reply.status != 200) return Error{"POST /fake/faults: " + std::to_string(reply.status)};
  return Status::Ok();
}

std::string Cluster::LogTails(size_t per_file) const {
  std::string out;
  std::error_code ignored;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path(), ignored)) {
    if (e.path().extension() == ".log") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string text = ReadFile(f);
    if (text.size() > per_file) text = "..." + text.substr(text.size() - per_file);
    out += "==== " + f + " ====\n" + text + "\n";
  }
  return out;
}

}  // namespace flexai::e2e
