#include "kube/config_file_watcher.h"

#include <fstream>
#include <sstream>
#include <utility>

namespace flexai::kube {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
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
      seen_(ReadAll(path_)) {}

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
  std::string text = ReadAll(path_);
  if (text.empty() || text == seen_) return false;
  seen_ = std::move(text);
  on_change_();
  return true;
}

}  // namespace flexai::kube
