#include "device_plugin/backend/ascend/ascend_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "device_plugin/backend/cpu_affinity.h"
#include "device_plugin/backend/pci_numa.h"

namespace flexai::device_plugin {
namespace {

std::string Where(int card, int device) {
  return "NPU card " + std::to_string(card) + " device " + std::to_string(device);
}

// DCMI reports MB meaning MiB. More than 16 TiB on one chip is a misreading, not a chip.
constexpr unsigned long long kMaxMemoryMib = 16ULL << 20;

std::string DieUuid(const dcmi_die_id& die) {
  char text[64];
  snprintf(text, sizeof text, "Ascend-%08X-%08X-%08X-%08X-%08X", die.soc_die[0], die.soc_die[1],
           die.soc_die[2], die.soc_die[3], die.soc_die[4]);
  return text;
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

Result<partition::Chip> AscendBackend::ReadNpu(Npu& npu, int index, int position) {
  const std::string where = Where(npu.card, npu.device);
  dcmi_chip_info info{};
  if (int rc = get_chip_info_(npu.card, npu.device, &info); rc != DCMI_OK) {
    return Error{where + ": dcmi_get_device_chip_info failed with " + std::to_string(rc)};
  }
  // The logic ID is what ASCEND_VISIBLE_DEVICES names: a guess could hand a pod another NPU.
  // A DCMI without the call numbers chips in enumeration order, skipped ones included.
  npu.logic_id = position;
  if (get_logic_id_) {
    if (int rc = get_logic_id_(&npu.logic_id, npu.card, npu.device); rc != DCMI_OK) {
      return Error{where + ": dcmi_get_device_logic_id failed with " + std::to_string(rc)};
    }
    if (npu.logic_id < 0) {
      return Error{where + ": dcmi_get_device_logic_id gave " + std::to_string(npu.logic_id)};
    }
  }
  unsigned long long memory_mb = 0;
  dcmi_hbm_info hbm{};
  if (get_hbm_ && get_hbm_(npu.card, npu.device, &hbm) == DCMI_OK && hbm.memory_size > 0) {
    memory_mb = hbm.memory_size;
  } else {
    dcmi_get_memory_info_stru memory{};
    if (int rc = get_memory_(npu.card, npu.device, &memory); rc != DCMI_OK) {
      return Error{where + ": dcmi_get_device_memory_info_v3 failed with " + std::to_string(rc)};
    }
    memory_mb = memory.memory_size;
  }
  if (memory_mb == 0 || memory_mb > kMaxMemoryMib) {
    return Error{where + ": DCMI reports " + std::to_string(memory_mb) +
                 " MB of memory, which no NPU has"};
  }
  dcmi_die_id die{};
  if (get_die_ && get_die_(npu.card, npu.device, VDIE, &die) == DCMI_OK) {
    npu.uuid = DieUuid(die);
    npu.has_die = true;
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
  chip.memory_mib = static_cast<int64_t>(memory_mb);  // DCMI reports MB meaning MiB
  chip.link_group = LinkGroupFor(chip.model, npu.logic_id);
  // A count no NPU has is a misreading: the policy's count for the model is used then.
  if (info.aicore_cnt > 0 && info.aicore_cnt <= 1024) {
    chip.compute_units = static_cast<int>(info.aicore_cnt);
  } else {
    spdlog::warn("{}: DCMI reports {} AI cores; vNPUs are sized by the policy's count for {}",
                 where, static_cast<int>(info.aicore_cnt), chip.model);
  }
  dcmi_pcie_info_all pcie{};
  if (get_pcie_ && get_pcie_(npu.card, npu.device, &pcie) == DCMI_OK) {
    std::string bus_id = PciBusId(static_cast<unsigned int>(pcie.domain), pcie.bdf_busid,
                                  pcie.bdf_deviceid, pcie.bdf_funcid);
    chip.numa_node = PciNumaNode(sysfs_root_, bus_id);
    chip.cpu_affinity = PciLocalCpuList(sysfs_root_, bus_id);
  }
  spdlog::info("{}: {} {} with {} AI cores, logic ID {}", where,
               Text(info.chip_type, sizeof info.chip_type), chip.model, chip.compute_units,
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
  std::vector<Npu> npus;
  std::map<std::string, int> logic_ids;
  std::map<int, std::string> uuid_of_logic_id;
  int position = 0;  // every chip enumerated, skipped ones included
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
      Npu npu;
      npu.card = cards[c];
      npu.device = d;
      auto chip = ReadNpu(npu, static_cast<int>(chips.size()), position++);
      if (!chip) {
        skip(chip.error().message);
        continue;
      }
      // Two chips under one name, or one logic ID, would be handed out as one: both must go
      // unserved rather than one of them to the wrong pod (the later one is left out).
      if (logic_ids.contains(npu.uuid)) {
        skip(Where(npu.card, npu.device) + ": same UUID " + npu.uuid + " as an earlier NPU");
        continue;
      }
      if (auto taken = uuid_of_logic_id.find(npu.logic_id); taken != uuid_of_logic_id.end()) {
        skip(Where(npu.card, npu.device) + " (" + npu.uuid + "): logic ID " +
             std::to_string(npu.logic_id) + " is already " + taken->second + "'s");
        continue;
      }
      logic_ids[npu.uuid] = npu.logic_id;
      uuid_of_logic_id[npu.logic_id] = npu.uuid;
      npus.push_back(npu);
      chips.push_back(std::move(*chip));
    }
  }
  {
    std::lock_guard lock(mu_);
    npus_ = std::move(npus);
    logic_ids_ = std::move(logic_ids);
  }
  if (chips.empty() && !first_error.empty()) {
    return Error{"no NPU can be read (first: " + first_error + ")"};
  }
  return chips;
}

// Logged once per change: health checks run four times a second.
void AscendBackend::SetPresence(Npu& npu, std::string problem) {
  npu.present = problem.empty();
  if (problem == npu.problem) return;
  if (!problem.empty()) {
    spdlog::error("{}: {}; Unhealthy", npu.uuid, problem);
  } else {
    spdlog::info("{}: found at {} again", npu.uuid, Where(npu.card, npu.device));
  }
  npu.problem = std::move(problem);
}

// Where each NPU is now, by die ID: a card whose chip vanished renumbers the chips after it.
void AscendBackend::RelocateLocked() {
  std::map<std::string, std::pair<int, int>> found;
  int card_count = 0;
  int cards[DCMI_MAX_CARDS] = {};
  if (get_card_list_(&card_count, cards, DCMI_MAX_CARDS) != DCMI_OK) return;
  for (int c = 0; c < card_count && c < DCMI_MAX_CARDS; ++c) {
    int devices = 0;
    if (get_device_count_(cards[c], &devices) != DCMI_OK) continue;
    for (int d = 0; d < devices; ++d) {
      dcmi_die_id die{};
      if (get_die_(cards[c], d, VDIE, &die) == DCMI_OK) found[DieUuid(die)] = {cards[c], d};
    }
  }
  // Each chip's problem is decided first and set once, so a chip is not logged out and in again
  // within one pass.
  std::map<Npu*, std::string> problems;
  for (auto& npu : npus_) {
    if (!npu.has_die) continue;
    std::string& problem = problems[&npu];
    auto it = found.find(npu.uuid);
    if (it == found.end()) {
      problem = "no NPU has its die ID any more (gone, or DCMI cannot read it)";
      continue;
    }
    if (it->second == std::make_pair(npu.card, npu.device)) continue;
    // A moved chip's logic ID may have moved too; without a fresh one it could name another
    // NPU, so it is not served, and it keeps its old place so that the next check tries again.
    const auto [card, device] = it->second;
    int logic_id = -1;
    if (!get_logic_id_ || get_logic_id_(&logic_id, card, device) != DCMI_OK || logic_id < 0) {
      problem = "now " + Where(card, device) + ", where its logic ID cannot be read";
      continue;
    }
    spdlog::warn("{} is now {}", npu.uuid, Where(card, device));
    npu.card = card;
    npu.device = device;
    if (logic_id != npu.logic_id) {
      spdlog::warn("{}: logic ID {} is now {}", npu.uuid, npu.logic_id, logic_id);
      npu.logic_id = logic_id;
      npu.renumbered = true;
      logic_ids_[npu.uuid] = logic_id;
    }
  }
  // No two chips served under one logic ID: chips renumbered onto a taken one are left out
  // (every holder, when none was renumbered).
  std::map<int, std::vector<Npu*>> holders;
  for (auto& npu : npus_) {
    const bool present = npu.has_die ? problems[&npu].empty() : npu.present;
    if (present) holders[npu.logic_id].push_back(&npu);
  }
  for (auto& [logic_id, sharing] : holders) {
    if (sharing.size() < 2) continue;
    const bool any_renumbered =
        std::any_of(sharing.begin(), sharing.end(), [](const Npu* n) { return n->renumbered; });
    for (Npu* npu : sharing) {
      if (any_renumbered && !npu->renumbered) continue;
      const std::string clash = "logic ID " + std::to_string(logic_id) + " is another chip's too";
      if (npu->has_die) {
        problems[npu] = clash;
      } else {
        SetPresence(*npu, clash);
      }
    }
  }
  for (auto& [npu, problem] : problems) SetPresence(*npu, std::move(problem));
}

Result<HealthReport> AscendBackend::CheckHealth() {
  if (!library_) return Error{"DCMI is not loaded"};
  std::lock_guard lock(mu_);
  // Health is asked by (card, device): first make sure each position still holds its chip. A
  // chip with a die ID is checked by it (and found again if it moved); one named by its position
  // by its logic ID, as the only thing that tells another chip there from it.
  bool moved = false;
  for (auto& npu : npus_) {
    if (npu.has_die) {
      dcmi_die_id die{};
      if (!npu.present || get_die_(npu.card, npu.device, VDIE, &die) != DCMI_OK ||
          DieUuid(die) != npu.uuid) {
        moved = true;
      }
    } else if (get_logic_id_) {
      int logic_id = -1;
      const int rc = get_logic_id_(&logic_id, npu.card, npu.device);
      SetPresence(npu, rc != DCMI_OK ? "its logic ID cannot be read (gone?)"
                       : logic_id != npu.logic_id
                           ? "its place now reports logic ID " + std::to_string(logic_id) +
                                 ", not " + std::to_string(npu.logic_id) + ": another chip"
                           : "");
    }
  }
  if (moved) RelocateLocked();
  HealthReport report;
  for (const auto& npu : npus_) {
    unsigned int health = 0;
    int rc = npu.present ? get_health_(npu.card, npu.device, &health) : -1;
    report[npu.uuid] = rc == DCMI_OK && IsHealthy(health) ? partition::Health::kHealthy
                                                          : partition::Health::kUnhealthy;
  }
  return report;
}

std::map<std::string, std::string> AscendBackend::VisibleDevicesEnv(
    const std::vector<partition::Chip>& chips) const {
  std::lock_guard lock(mu_);
  std::string ids;
  for (const auto& chip : chips) {
    auto it = logic_ids_.find(chip.uuid);
    int id = it == logic_ids_.end() ? chip.index : it->second;
    ids += (ids.empty() ? "" : ",") + std::to_string(id);
  }
  return {{"ASCEND_VISIBLE_DEVICES", ids}};
}

}  // namespace flexai::device_plugin
