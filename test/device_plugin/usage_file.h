// A usage.bin as the hook writes it, for tests of what the device plugin reads from it: a valid
// header for `device_count` devices in hook mode; the caller fills in the devices.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "isolation/usage_layout.h"

namespace flexai::device_plugin::testing {

inline std::unique_ptr<isolation::UsageFile> NewUsageFile(std::uint32_t device_count) {
  auto file = std::make_unique<isolation::UsageFile>();
  std::memcpy(file->header.magic, isolation::kUsageMagic, sizeof file->header.magic);
  file->header.version = isolation::kUsageVersion;
  file->header.header_bytes = sizeof(isolation::UsageHeader);
  file->header.device_bytes = sizeof(isolation::UsageDevice);
  file->header.process_bytes = sizeof(isolation::UsageProcess);
  file->header.device_count = device_count;
  file->header.device_capacity = isolation::kUsageMaxDevices;
  file->header.process_capacity = isolation::kUsageMaxProcesses;
  file->header.mode = 1;  // hook
  return file;
}

}  // namespace flexai::device_plugin::testing
