#include "device_plugin/kubelet_connection.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace flexai::device_plugin {
namespace {

constexpr auto kWatchInterval = std::chrono::milliseconds(250);
constexpr auto kRegisterRetry = std::chrono::seconds(1);
constexpr auto kRegisterTimeout = std::chrono::seconds(5);
constexpr char kKubeletSocket[] = "kubelet.sock";
constexpr char kApiVersion[] = "v1beta1";
// After a takeover, the second registration waits this long (the other instance stands by within
// a watch pass, 250 ms, and its shutdown takes up to 500 ms).
constexpr auto kTakeoverReregisterAfter = std::chrono::seconds(2);

// Unique across instances, also those in other PID namespaces (every pod's daemon is PID 1).
std::string RandomSuffix() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", random(), random());
  return text;
}

}  // namespace

std::string SocketNameFor(const std::string& resource_name) {
  size_t slash = resource_name.rfind('/');
  std::string tail = slash == std::string::npos ? resource_name : resource_name.substr(slash + 1);
  return "flexai-" + tail + ".sock";
}

KubeletConnection::KubeletConnection(std::string plugin_dir, std::string socket_name,
                                     std::string resource_name, grpc::Service* service)
    : plugin_dir_(std::move(plugin_dir)),
      socket_name_(std::move(socket_name)),
      resource_name_(std::move(resource_name)),
      service_(service) {}

KubeletConnection::~KubeletConnection() { Stop(); }

bool KubeletConnection::FileIdentity(const std::string& path, ino_t& inode, time_t& ctime_sec) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  inode = st.st_ino;
  ctime_sec = st.st_ctim.tv_sec;
  return true;
}

Status KubeletConnection::Serve() {
  StopServing();
  // gRPC unlinks the socket file at its listening path when the server shuts down, whatever
  // socket is there by then. So the server listens on a name of its own, renamed over our path
  // (which also replaces a stale socket from a previous run): a later shutdown removes nothing
  // another process serves.
  const std::string path = socket_path();
  const std::string bound = plugin_dir_ + "/." + socket_name_ + "." + RandomSuffix();
  // Something at the path already: another instance (or a stale socket) is being replaced.
  const bool taking_over = access(path.c_str(), F_OK) == 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + bound, grpc::InsecureServerCredentials());
  builder.RegisterService(service_);
  server_ = builder.BuildAndStart();
  if (!server_) return Error{"cannot serve device plugin socket " + path};
  if (rename(bound.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    StopServing();
    unlink(bound.c_str());
    return Error{"cannot serve device plugin socket " + path + ": rename: " + why};
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Error{"served " + path + " but it does not exist"};
  our_socket_dev_ = st.st_dev;
  our_socket_inode_ = st.st_ino;
  if (taking_over) {
    // The replaced instance stands by within a watch pass and its stream to kubelet ends.
    takeover_reregister_at_ = std::chrono::steady_clock::now() + kTakeoverReregisterAfter;
    takeover_reregister_pending_ = true;
  }
  ++serve_count_;
  spdlog::info("serving {} on {}", resource_name_, path);
  return Status::Ok();
}

void KubeletConnection::StopServing() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server_.reset();
}

KubeletConnection::SocketState KubeletConnection::OurSocketState() const {
  struct stat st {};
  if (stat(socket_path().c_str(), &st) != 0) return SocketState::kGone;
  const bool ours = server_ && st.st_dev == our_socket_dev_ && st.st_ino == our_socket_inode_;
  return ours ? SocketState::kOurs : SocketState::kReplaced;
}

Status KubeletConnection::Register() {
  const std::string kubelet_path = plugin_dir_ + "/" + kKubeletSocket;
  ino_t inode = 0;
  time_t ctime_sec = 0;
  if (!FileIdentity(kubelet_path, inode, ctime_sec)) {
    return Error{kubelet_path + " does not exist (is kubelet running?)"};
  }
  auto channel = grpc::CreateChannel("unix://" + kubelet_path, grpc::InsecureChannelCredentials());
  auto stub = v1beta1::Registration::NewStub(channel);
  v1beta1::RegisterRequest request;
  request.set_version(kApiVersion);
  request.set_endpoint(socket_name_);
  request.set_resource_name(resource_name_);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  request.mutable_options()->set_pre_start_required(false);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRegisterTimeout);
  v1beta1::Empty reply;
  grpc::Status status = stub->Register(&context, request, &reply);
  if (!status.ok()) {
    return Error{"registering " + resource_name_ + " with " + kubelet_path + ": " +
                 status.error_message()};
  }
  kubelet_inode_ = inode;
  kubelet_ctime_ = ctime_sec;
  spdlog::info("registered {} (endpoint {}) with kubelet", resource_name_, socket_name_);
  return Status::Ok();
}

Status KubeletConnection::Start() {
  struct stat dir {};
  if (stat(plugin_dir_.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode)) {
    return Error{"device plugin directory " + plugin_dir_ +
                 " does not exist (is kubelet's /var/lib/kubelet/device-plugins mounted, or "
                 "--device-plugin-dir wrong?)"};
  }
  Status served = Serve();
  if (!served) return served;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  watcher_ = std::thread([this] { WatchLoop(); });
  return Status::Ok();
}

bool KubeletConnection::StandByWhileReplaced(SocketState state) {
  if (state != SocketState::kReplaced) return false;
  if (!standing_by_) {
    // Newest wins: the other instance replaced our socket on start. Serving it back would
    // remove theirs, and the two would take turns forever.
    spdlog::error(
        "{}: another process now serves {} (a second flexai-device-plugin?); this one stops "
        "serving kubelet until that socket goes away",
        resource_name_, socket_path());
    StopServing();
    registered_ = false;
    // Taken over right after taking over itself: nothing of its own left to register again.
    takeover_reregister_pending_ = false;
    standing_by_ = true;
  }
  return true;
}

void KubeletConnection::WatchLoop() {
  auto next_register = std::chrono::steady_clock::now();
  std::string last_error;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    const SocketState state = OurSocketState();
    if (!StandByWhileReplaced(state)) {
      const bool resuming = standing_by_.exchange(false);
      ino_t k_inode = 0;
      time_t k_ctime = 0;
      bool kubelet_there = FileIdentity(plugin_dir_ + "/" + kKubeletSocket, k_inode, k_ctime);
      bool kubelet_changed =
          registered_ && kubelet_there && (k_inode != kubelet_inode_ || k_ctime != kubelet_ctime_);
      if (registered_ && !kubelet_there) {
        spdlog::warn("{}: kubelet.sock is gone (kubelet stopped?); will register when it returns",
                     resource_name_);
        registered_ = false;
      }
      if (resuming) {
        spdlog::info("{}: {} went away; serving again and re-registering", resource_name_,
                     socket_path());
      } else if (state == SocketState::kGone || kubelet_changed) {
        spdlog::warn(
            "{}: kubelet restarted ({}); serving again and re-registering", resource_name_,
            state == SocketState::kGone ? "our socket was removed" : "kubelet.sock was recreated");
      }
      if (state == SocketState::kGone || kubelet_changed) {
        registered_ = false;
        if (Status s = Serve(); !s) spdlog::error("{}", s.message());
        next_register = std::chrono::steady_clock::now();
      }
      if (registered_ && takeover_reregister_pending_ &&
          std::chrono::steady_clock::now() >= takeover_reregister_at_) {
        Status s = Register();
        spdlog::info("{}: registered again after taking {} over from another instance ({})",
                     resource_name_, socket_path(), s.ok() ? "ok" : s.message());
        registered_ = s.ok();
        takeover_reregister_pending_ = false;
      }
      if (!registered_ && std::chrono::steady_clock::now() >= next_register) {
        Status s = Register();
        registered_ = s.ok();
        if (!s && s.message() != last_error) {
          spdlog::warn("{}; retrying every {} s", s.message(), kRegisterRetry.count());
        }
        last_error = s.ok() ? "" : s.message();
        next_register = std::chrono::steady_clock::now() + kRegisterRetry;
      }
    }
    ++watch_passes_;
    lock.lock();
    wake_.wait_for(lock, kWatchInterval, [&] { return stop_; });
  }
}

void KubeletConnection::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  // Only our own socket is removed: one another instance serves now stays (checked after the
  // shutdown, which takes a while: another instance may take the path over meanwhile).
  const bool was_serving = server_ != nullptr;
  StopServing();
  struct stat st {};
  if (was_serving && stat(socket_path().c_str(), &st) == 0 && st.st_dev == our_socket_dev_ &&
      st.st_ino == our_socket_inode_) {
    unlink(socket_path().c_str());
  }
}

}  // namespace flexai::device_plugin
