#include "isolation/hook/hook_config.h"

#include <charconv>
#include <string_view>

#include "isolation/usage_layout.h"

namespace flexai::isolation {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string_view part =
        text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    parts.push_back(part);
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

bool ParseUnsigned(std::string_view text, std::uint64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

void ParseMemory(const char* raw, HookConfig& config) {
  if (raw == nullptr) return;
  config.memory_limited = true;
  for (std::string_view entry : SplitCommas(raw)) {
    std::uint64_t mib = 0;
    if (entry == "unlimited") {
      config.memory_bytes.push_back(kUnlimitedBytes);
    } else if (ParseUnsigned(entry, mib) && mib <= kUnlimitedBytes / kMiB) {
      config.memory_bytes.push_back(mib * kMiB);
    } else {
      config.warnings.push_back(
          "FLEXAI_MEMORY_LIMIT_MIB entry '" + std::string(entry) +
          "' is not a MiB count or 'unlimited'; that device gets a 0 byte quota");
      config.memory_bytes.push_back(0);
    }
  }
}

void ParseCores(const char* raw, HookConfig& config) {
  if (raw == nullptr) return;
  config.cores_limited = true;
  for (std::string_view entry : SplitCommas(raw)) {
    std::uint64_t percent = 0;
    if (ParseUnsigned(entry, percent) && percent == 0) {
      config.cores_percent.push_back(100);  // no compute reserved: best effort, not throttled
    } else if (ParseUnsigned(entry, percent) && percent <= 100) {
      config.cores_percent.push_back(static_cast<std::uint32_t>(percent));
    } else {
      config.warnings.push_back("FLEXAI_CORES_LIMIT entry '" + std::string(entry) +
                                "' is not a percentage 1..100; that device is throttled to 1%");
      config.cores_percent.push_back(1);
    }
  }
}

IsolationMode ParseMode(const char* raw, HookConfig& config) {
  if (raw == nullptr || std::string_view(raw) == "hook") return IsolationMode::kHook;
  if (std::string_view(raw) == "mps") return IsolationMode::kMps;
  if (std::string_view(raw) == "none") return IsolationMode::kNone;
  config.warnings.push_back("FLEXAI_ISOLATION='" + std::string(raw) +
                            "' is not hook, mps or none; enforcing quotas as in hook mode");
  return IsolationMode::kHook;
}

}  // namespace

std::uint64_t HookConfig::MemoryLimitBytes(int device) const {
  if (!memory_limited) return kUnlimitedBytes;
  if (device < 0 || static_cast<std::size_t>(device) >= memory_bytes.size()) return 0;
  return memory_bytes[static_cast<std::size_t>(device)];
}

std::uint32_t HookConfig::CoresPercent(int device) const {
  if (!cores_limited) return 100;
  if (device < 0 || static_cast<std::size_t>(device) >= cores_percent.size()) return 1;
  return cores_percent[static_cast<std::size_t>(device)];
}

int HookConfig::VisibleDeviceOfUuid(std::string_view uuid) const {
  if (uuid.empty()) return -1;
  for (std::size_t i = 0; i < visible_uuids.size(); ++i) {
    if (visible_uuids[i] == uuid) return static_cast<int>(i);
  }
  return -1;
}

HookConfig ParseHookConfig(const std::function<const char*(const char*)>& getenv) {
  HookConfig config;
  config.mode = ParseMode(getenv("FLEXAI_ISOLATION"), config);
  ParseMemory(getenv("FLEXAI_MEMORY_LIMIT_MIB"), config);
  ParseCores(getenv("FLEXAI_CORES_LIMIT"), config);
  if (const char* dir = getenv("FLEXAI_SHARED_DIR"); dir != nullptr) config.shared_dir = dir;
  if (const char* dir = getenv("FLEXAI_ACTIVITY_DIR"); dir != nullptr) config.activity_dir = dir;
  if (const char* uuids = getenv("FLEXAI_VISIBLE_DEVICES"); uuids != nullptr) {
    for (std::string_view uuid : SplitCommas(uuids)) config.visible_uuids.emplace_back(uuid);
  }
  if (const char* debug = getenv("FLEXAI_HOOK_DEBUG"); debug != nullptr)
    config.debug = debug[0] == '1';
  if (const char* calibrate = getenv("FLEXAI_SHARE_CALIBRATION"); calibrate != nullptr)
    config.calibrate_shares = std::string_view(calibrate) != "0";
  if (config.memory_bytes.size() > kUsageMaxDevices ||
      config.cores_percent.size() > kUsageMaxDevices) {
    config.warnings.push_back("more than 16 devices listed; devices past 16 are not accounted");
  }
  return config;
}

}  // namespace flexai::isolation
