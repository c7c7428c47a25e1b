// A fake libdcmi.so exporting the DCMI symbols flexai uses. Behaviour comes from the JSON file
// named by FAKE_DCMI_CONFIG (re-read when it changes):
//   {"init": 0, "errors": {"dcmi_get_card_num_list": -8005},
//    "cards": [{"id": 0, "chips": [{"logicId": 0, "type": "Ascend", "name": "910B3",
//               "aicore": 20, "hbmMiB": 65536, "memoryMiB": 15000, "health": 0,
//               "die": [1, 2, 3, 4, 5], "errors": {"dcmi_get_device_die_v2": -8001}}]}]}
// Omitted "hbmMiB" = the chip has no HBM (dcmi_get_device_hbm_info fails); omitted "die" = no
// die ID; "pci": [domain, bus, device, function] for dcmi_get_device_pcie_info_v2 (omitted = the
// call fails as unsupported). Test-only code.
#include <cstring>
#include <string>

#include "fake_config.h"

namespace {

using flexai::fakes::InjectedError;
using nlohmann::json;

constexpr int kOk = 0, kInvalidParameter = -8001, kNotReady = -8012, kNotSupported = -8255;

flexai::fakes::FakeConfig g_config("FAKE_DCMI_CONFIG");
bool g_initialized = false;

struct ChipInfo {
  unsigned char chip_type[32];
  unsigned char chip_name[32];
  unsigned char chip_ver[32];
  unsigned int aicore_cnt;
};
struct MemoryInfo {
  unsigned long long memory_size, memory_available;
  unsigned int freq;
  unsigned long hugepagesize, hugepages_total, hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};
struct PcieInfo {
  unsigned int venderid, subvenderid, deviceid, subdeviceid;
  int domain;
  unsigned int bdf_busid, bdf_deviceid, bdf_funcid;
  unsigned char reserve[32];
};
struct HbmInfo {
  unsigned long long memory_size;
  unsigned int freq;
  unsigned long long memory_usage;
  int temp;
  unsigned int bandwith_util_rate;
};

json Card(int card_id) {
  json config = g_config.Get();
  for (const auto& card : config.value("cards", json::array())) {
    if (card.value("id", -1) == card_id) return card;
  }
  return nullptr;
}

// The chip (card, device) into `chip`; the return code says why not.
int Chip(int card_id, int device_id, json& chip, const char* function) {
  if (!g_initialized) return kNotReady;
  json card = Card(card_id);
  if (card.is_null()) return kInvalidParameter;
  json chips = card.value("chips", json::array());
  if (device_id < 0 || static_cast<size_t>(device_id) >= chips.size()) return kInvalidParameter;
  chip = chips[static_cast<size_t>(device_id)];
  return InjectedError(chip, function);
}

void CopyText(const std::string& text, unsigned char* out, size_t size) {
  std::memset(out, 0, size);
  std::memcpy(out, text.data(), std::min(text.size(), size - 1));
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int dcmi_init() {
  int rc = g_config.Get().value("init", 0);
  g_initialized = rc == kOk;
  return rc;
}

__attribute__((visibility("default"))) int dcmi_get_card_num_list(int* card_num, int* card_list,
                                                                  int list_len) {
  if (!g_initialized) return kNotReady;
  json config = g_config.Get();
  if (int rc = InjectedError(config, "dcmi_get_card_num_list")) return rc;
  int n = 0;
  for (const auto& card : config.value("cards", json::array())) {
    if (n >= list_len) return kInvalidParameter;
    card_list[n++] = card.value("id", 0);
  }
  *card_num = n;
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_num_in_card(int card_id,
                                                                       int* device_num) {
  if (!g_initialized) return kNotReady;
  json card = Card(card_id);
  if (card.is_null()) return kInvalidParameter;
  if (int rc = InjectedError(card, "dcmi_get_device_num_in_card")) return rc;
  *device_num = static_cast<int>(card.value("chips", json::array()).size());
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_logic_id(int* logic_id, int card_id,
                                                                    int device_id) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_logic_id")) return rc;
  *logic_id = chip.value("logicId", 0);
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_chip_info(int card_id, int device_id,
                                                                     ChipInfo* info) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_chip_info")) return rc;
  CopyText(chip.value("type", "Ascend"), info->chip_type, sizeof info->chip_type);
  CopyText(chip.value("name", "910B3"), info->chip_name, sizeof info->chip_name);
  CopyText(chip.value("version", "V1"), info->chip_ver, sizeof info->chip_ver);
  info->aicore_cnt = chip.value("aicore", 20u);
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_memory_info_v3(int card_id,
                                                                          int device_id,
                                                                          MemoryInfo* info) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_memory_info_v3")) return rc;
  std::memset(info, 0, sizeof *info);
  info->memory_size = chip.value("memoryMiB", 15000ULL);
  info->memory_available = info->memory_size;
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_hbm_info(int card_id, int device_id,
                                                                    HbmInfo* info) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_hbm_info")) return rc;
  if (!chip.contains("hbmMiB")) return kNotSupported;
  std::memset(info, 0, sizeof *info);
  info->memory_size = chip["hbmMiB"].get<unsigned long long>();
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_health(int card_id, int device_id,
                                                                  unsigned int* health) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_health")) return rc;
  *health = chip.value("health", 0u);
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_die_v2(int card_id, int device_id,
                                                                  int /*type*/,
                                                                  unsigned int* soc_die) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_die_v2")) return rc;
  if (!chip.contains("die")) return kNotSupported;
  for (size_t i = 0; i < 5; ++i) soc_die[i] = chip["die"].at(i).get<unsigned int>();
  return kOk;
}

__attribute__((visibility("default"))) int dcmi_get_device_pcie_info_v2(int card_id, int device_id,
                                                                        PcieInfo* info) {
  json chip;
  if (int rc = Chip(card_id, device_id, chip, "dcmi_get_device_pcie_info_v2")) return rc;
  if (!chip.contains("pci")) return kNotSupported;
  std::memset(info, 0, sizeof *info);
  info->venderid = 0x19e5;  // Huawei
  info->domain = chip["pci"].at(0).get<int>();
  info->bdf_busid = chip["pci"].at(1).get<unsigned int>();
  info->bdf_deviceid = chip["pci"].at(2).get<unsigned int>();
  info->bdf_funcid = chip["pci"].at(3).get<unsigned int>();
  return kOk;
}

}  // extern "C"
