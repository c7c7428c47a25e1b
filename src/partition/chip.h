// A physical accelerator chip (GPU or NPU) as the scheduler sees it: identity, capacity, topology
// and health. Compute capacity is always 100 (percent of one chip).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flexai::partition {

enum class Vendor { kNvidia, kAscend, kSim };
enum class Health { kHealthy, kUnhealthy };

inline constexpr int kCoresPerChip = 100;

struct Chip {
  Vendor vendor = Vendor::kSim;
  int index = 0;             // position on its node, 0-based
  std::string uuid;          // globally unique (GPU-xxxx for NVIDIA)
  std::string model;         // e.g. "H100", "910B3", or a trace model name such as "G2"
  int64_t memory_mib = 0;    // total device memory
  int numa_node = -1;        // -1 when unknown
  int link_group = -1;       // NVLink island / HCCS ring id on this node, -1 when none
  std::string cpu_affinity;  // nearest CPUs as a Linux CPU list ("0-31,64-95"), "" when unknown
  int compute_units = 0;     // what the driver reports (Ascend: AI cores); 0 when unknown
  Health health = Health::kHealthy;

  bool healthy() const { return health == Health::kHealthy; }
};

std::string_view VendorName(Vendor vendor);
std::optional<Vendor> ParseVendor(std::string_view name);
std::string_view HealthName(Health health);
// Whether `text` is a Linux CPU list (Chip::cpu_affinity): "" or comma-separated N or N-M, N <= M.
bool IsCpuList(std::string_view text);

}  // namespace flexai::partition
