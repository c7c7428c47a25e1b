// Keeps what is logged through spdlog's default logger while it lives, for tests of a message an
// operator must see. Adds a sink to the default logger and removes it again: create it while no
// other thread logs.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flexai::device_plugin::testing {

class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<LineSink>()) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // How many lines at `level` contain `text`.
  int Count(spdlog::level::level_enum level, const std::string& text) const {
    return sink_->Count(level, text);
  }
  // Every line so far, "level: message", for failure messages.
  std::string All() const { return sink_->All(); }

 private:
  class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    int Count(spdlog::level::level_enum level, const std::string& text) const {
      std::lock_guard lock(lines_mu_);
      return static_cast<int>(std::count_if(lines_.begin(), lines_.end(), [&](const auto& line) {
        return line.first == level && line.second.find(text) != std::string::npos;
      }));
    }
    std::string All() const {
      std::lock_guard lock(lines_mu_);
      std::string all;
      for (const auto& [level, message] : lines_) {
        all += std::string(spdlog::level::to_string_view(level).data()) + ": " + message + "\n";
      }
      return all;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::lock_guard lock(lines_mu_);
      lines_.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

   private:
    mutable std::mutex lines_mu_;
    std::vector<std::pair<spdlog::level::level_enum, std::string>> lines_;
  };

  std::shared_ptr<LineSink> sink_;
};

}  // namespace flexai::device_plugin::testing
