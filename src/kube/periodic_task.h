// Runs a function every interval on its own thread until stopped (MPS daemon checks, node label
// checks, the Hi Scheduler's workload refresh).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace flexai::kube {

class PeriodicTask {
 public:
  PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task)
      : interval_(interval), task_(std::move(task)) {}
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start() {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!wake_.wait_for(lock, interval_, [&] { return stop_; })) {
        lock.unlock();
        task_();
        lock.lock();
      }
    });
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const std::chrono::milliseconds interval_;
  std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace flexai::kube
