#include "kube/config_file_watcher.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace flexai::kube {
namespace {

// The file's content; nullopt when it cannot be opened (deleted, its ConfigMap gone).
std::optional<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

ConfigFileWatcher::ConfigFileWatcher(std::string path, std::chrono::milliseconds interval,
                                     std::function<void()> on_change)
    : path_(std::move(path)),
      interval_(interval),
      on_change_(std::move(on_change)),
      seen_(ReadAll(path_).value_or("")) {}

ConfigFileWatcher::~ConfigFileWatcher() { Stop(); }

void ConfigFileWatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (wake_.wait_for(lock, interval_, [this] { return stop_; })) break;
      lock.unlock();
      CheckNow();
      lock.lock();
    }
  });
}

void ConfigFileWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ConfigFileWatcher::CheckNow() {
  std::lock_guard lock(check_mu_);
  std::optional<std::string> read = ReadAll(path_);
  if (!read) {
    if (!missing_.exchange(true)) {
      spdlog::warn(
          "{} cannot be read (deleted, or its ConfigMap removed?); keeping the policy "
          "last loaded until it is back",
          path_);
    }
    return false;
  }
  if (missing_.exchange(false)) spdlog::info("{} can be read again", path_);
  std::string text = std::move(*read);
  if (text.empty() || text == seen_) return false;
  seen_ = std::move(text);
  on_change_();
  return true;
}

}  // namespace flexai::kube
