#include "device_plugin/backend/ascend/ascend_backend.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <utility>

#include "device_plugin/backend/cpu_affinity.h"
#include "device_plugin/backend/pci_numa.h"

namespace flexai::device_plugin {
namespace {

std::string Where(int card, int device) {
  return "NPU card " + std::to_string(card) + " device " + std::to_string(device);
}

std::string Text(const unsigned char* bytes, size_t size) {
  size_t n = 0;
  while (n < size && bytes[n] != 0) ++n;
  return std::string(reinterpret_cast<const char*>(bytes), n);
}

}  // namespace

AscendBackend::AscendBackend(std::string library_path, std::string sysfs_root)
    : library_path_(std::move(library_path)), sysfs_root_(std::move(sysfs_root)) {}

int AscendBackend::LinkGroupFor(const std::string& model, int logic_id) {
  if (model.find("910B") != std::string::npos || model.find("910_93") != std::string::npos) {
    return 0;
  }
  if (model.rfind("910", 0) == 0) return logic_id / 4;
  return -1;  // 310P and others: no HCCS between chips
}

bool AscendBackend::IsHealthy(unsigned int dcmi_health) { return dcmi_health <= 1; }

Status AscendBackend::Load() {
  auto opened = DynamicLibrary::Open(library_path_);
  if (!opened) return Error{opened.error().message + " (is the Ascend driver installed?)"};
  library_ = std::move(*opened);
  dcmi_init_fn init = nullptr;
  bool required = library_->Bind(init, "dcmi_init") &&
                  library_->Bind(get_card_list_, "dcmi_get_card_num_list") &&
                  library_->Bind(get_device_count_, "dcmi_get_device_num_in_card") &&
                  library_->Bind(get_chip_info_, "dcmi_get_device_chip_info") &&
                  library_->Bind(get_memory_, "dcmi_get_device_memory_info_v3") &&
                  library_->Bind(get_health_, "dcmi_get_device_health");
  if (!required) return Error{library_path_ + " lacks a required DCMI function"};
  library_->Bind(get_logic_id_, "dcmi_get_device_logic_id");
  library_->Bind(get_hbm_, "dcmi_get_device_hbm_info");
  library_->Bind(get_die_, "dcmi_get_device_die_v2");
  library_->Bind(get_pcie_, "dcmi_get_device_pcie_info_v2");
  if (int rc = init(); rc != DCMI_OK) return Error{"dcmi_init failed with " + std::to_string(rc)};
  return Status::Ok();
}

Result<partition::Chip> AscendBackend::ReadNpu(Npu& npu, int index) {
  const std::string where = Where(npu.card, npu.device);
  dcmi_chip_info info{};
  if (int rc = get_chip_info_(npu.card, npu.device, &info); rc != DCMI_OK) {
    return Error{where + ": dcmi_get_device_chip_info failed with " + std::to_string(rc)};
  }
  npu.logic_id = index;
  if (get_logic_id_ && get_logic_id_(&npu.logic_id, npu.card, npu.device) != DCMI_OK) {
    npu.logic_id = index;
  }
  int64_t memory_mb = 0;
  dcmi_hbm_info hbm{};
  if (get_hbm_ && get_hbm_(npu.card, npu.device, &hbm) == DCMI_OK && hbm.memory_size > 0) {
    memory_mb = static_cast<int64_t>(hbm.memory_size);
  } else {
    dcmi_get_memory_info_stru memory{};
    if (int rc = get_memory_(npu.card, npu.device, &memory); rc != DCMI_OK) {
      return Error{where + ": dcmi_get_device_memory_info_v3 failed with " + std::to_string(rc)};
    }
    memory_mb = static_cast<int64_t>(memory.memory_size);
  }
  dcmi_die_id die{};
  if (get_die_ && get_die_(npu.card, npu.device, VDIE, &die) == DCMI_OK) {
    char text[64];
    snprintf(text, sizeof text, "Ascend-%08X-%08X-%08X-%08X-%08X", die.soc_die[0], die.soc_die[1],
             die.soc_die[2], die.soc_die[3], die.soc_die[4]);
    npu.uuid = text;
  } else {
    // Without a die ID the name is only unique on this node; say so.
    npu.uuid = "Ascend-card" + std::to_string(npu.card) + "-dev" + std::to_string(npu.device);
    spdlog::warn("{}: no die ID from DCMI; using {} as its UUID", where, npu.uuid);
  }
  partition::Chip chip;
  chip.vendor = partition::Vendor::kAscend;
  chip.index = index;
  chip.uuid = npu.uuid;
  chip.model = Text(info.chip_name, sizeof info.chip_name);
  chip.memory_mib = memory_mb;  // DCMI reports MB meaning MiB
  chip.link_group = LinkGroupFor(chip.model, npu.logic_id);
  dcmi_pcie_info_all pcie{};
  if (get_pcie_ && get_pcie_(npu.card, npu.device, &pcie) == DCMI_OK) {
    std::string bus_id = PciBusId(static_cast<unsigned int>(pcie.domain), pcie.bdf_busid,
                                  pcie.bdf_deviceid, pcie.bdf_funcid);
    chip.numa_node = PciNumaNode(sysfs_root_, bus_id);
    chip.cpu_affinity = PciLocalCpuList(sysfs_root_, bus_id);
  }
  spdlog::info("{}: {} {} with {} AI cores, logic ID {}", where,
               Text(info.chip_type, sizeof info.chip_type), chip.model, info.aicore_cnt,
               npu.logic_id);
  return chip;
}

Result<std::vector<partition::Chip>> AscendBackend::Discover() {
  if (!library_) {
    if (Status s = Load(); !s) return Error{s.message()};
  }
  int card_count = 0;
  int cards[DCMI_MAX_CARDS] = {};
  if (int rc = get_card_list_(&card_count, cards, DCMI_MAX_CARDS); rc != DCMI_OK) {
    return Error{"dcmi_get_card_num_list failed with " + std::to_string(rc)};
  }
  npus_.clear();
  logic_ids_.clear();
  // A card or chip that cannot be read is left out, so that the others are still served (as the
  // NVIDIA backend does); only a node where nothing can be read fails.
  std::vector<partition::Chip> chips;
  std::string first_error;
  auto skip = [&](const std::string& why) {
    spdlog::error("{}; not served until the device plugin restarts", why);
    if (first_error.empty()) first_error = why;
  };
  for (int c = 0; c < card_count && c < DCMI_MAX_CARDS; ++c) {
    int devices = 0;
    if (int rc = get_device_count_(cards[c], &devices); rc != DCMI_OK) {
      skip("NPU card " + std::to_string(cards[c]) + ": dcmi_get_device_num_in_card failed with " +
           std::to_string(rc));
      continue;
    }
    for (int d = 0; d < devices; ++d) {
      Npu npu{cards[c], d, 0, ""};
      auto chip = ReadNpu(npu, static_cast<int>(chips.size()));
      if (!chip) {
        skip(chip.error().message);
        continue;
      }
      logic_ids_[npu.uuid] = npu.logic_id;
      npus_.push_back(npu);
      chips.push_back(std::move(*chip));
    }
  }
  if (chips.empty() && !first_error.empty()) {
    return Error{"no NPU can be read (first: " + first_error + ")"};
  }
  return chips;
}

Result<HealthReport> AscendBackend::CheckHealth() {
  if (!library_) return Error{"DCMI is not loaded"};
  HealthReport report;
  for (const auto& npu : npus_) {
    unsigned int health = 0;
    int rc = get_health_(npu.card, npu.device, &health);
    report[npu.uuid] = rc == DCMI_OK && IsHealthy(health) ? partition::Health::kHealthy
                                                          : partition::Health::kUnhealthy;
  }
  return report;
}

std::map<std::string, std::string> AscendBackend::VisibleDevicesEnv(
    const std::vector<partition::Chip>& chips) const {
  std::string ids;
  for (const auto& chip : chips) {
    auto it = logic_ids_.find(chip.uuid);
    int id = it == logic_ids_.end() ? chip.index : it->second;
    ids += (ids.empty() ? "" : ",") + std::to_string(id);
  }
  return {{"ASCEND_VISIBLE_DEVICES", ids}};
}

}  // namespace flexai::device_plugin
