// Ascend NPUs through DCMI: cards and the chips on them, model name, AI cores, memory (HBM when
// the chip has it), health, NUMA node and nearest CPUs (the chip's PCI device in sysfs), and HCCS
// link groups by model. vNPU templates come from the policy, not from here.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device_plugin/backend/ascend/dcmi_api.h"
#include "device_plugin/backend/backend.h"
#include "device_plugin/backend/dynamic_library.h"

namespace flexai::device_plugin {

class AscendBackend : public Backend {
 public:
  // `sysfs_root`: where the PCI devices' NUMA nodes are read (tests point it elsewhere).
  explicit AscendBackend(std::string library_path, std::string sysfs_root = "/sys");

  partition::Vendor vendor() const override { return partition::Vendor::kAscend; }
  Result<std::vector<partition::Chip>> Discover() override;
  Result<HealthReport> CheckHealth() override;
  // ASCEND_VISIBLE_DEVICES takes the chips' logic IDs.
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override;

  // HCCS topology by model: 910B/910_93 boxes are one full mesh, 910 (A) has rings of 4.
  static int LinkGroupFor(const std::string& model, int logic_id);
  // DCMI health: 0 OK and 1 minor alarm are Healthy; major, critical or unknown are not.
  static bool IsHealthy(unsigned int dcmi_health);

 private:
  struct Npu {
    int card = 0;
    int device = 0;
    int logic_id = 0;
    std::string uuid;
    bool has_die = false;     // named by its die ID (else by its position, which cannot move)
    bool present = true;      // at the last health check, found where its name says
    std::string problem;      // why not, as last logged
    bool renumbered = false;  // its logic ID changed since discovery (it moved)
  };
  Status Load();
  // `index`: the chip's index among those served; `position`: among all enumerated.
  Result<partition::Chip> ReadNpu(Npu& npu, int index, int position);
  void RelocateLocked();
  // present = problem.empty(); logs when the problem changes.
  static void SetPresence(Npu& npu, std::string problem);

  std::string library_path_;
  std::string sysfs_root_;
  std::unique_ptr<DynamicLibrary> library_;
  dcmi_get_card_num_list_fn get_card_list_ = nullptr;
  dcmi_get_device_num_in_card_fn get_device_count_ = nullptr;
  dcmi_get_device_logic_id_fn get_logic_id_ = nullptr;
  dcmi_get_device_chip_info_fn get_chip_info_ = nullptr;
  dcmi_get_device_memory_info_v3_fn get_memory_ = nullptr;
  dcmi_get_device_hbm_info_fn get_hbm_ = nullptr;
  dcmi_get_device_health_fn get_health_ = nullptr;
  dcmi_get_device_die_v2_fn get_die_ = nullptr;
  dcmi_get_device_pcie_info_v2_fn get_pcie_ = nullptr;
  mutable std::mutex mu_;  // health checks move NPUs while Allocate reads their logic IDs
  std::vector<Npu> npus_;
  std::map<std::string, int> logic_ids_;  // by uuid
};

}  // namespace flexai::device_plugin
