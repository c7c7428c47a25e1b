// The few Ascend DCMI types and entry points flexai uses, declared from Huawei's public DCMI API
// reference (dcmi_interface_api.h) so that no CANN/driver package is needed at build time.
// Layouts must match the driver's libdcmi.so; keep this list short.
#pragma once

extern "C" {

inline constexpr int DCMI_OK = 0;
inline constexpr int DCMI_MAX_CARDS = 64;
inline constexpr int DCMI_MAX_CHIP_NAME_LEN = 32;

struct dcmi_chip_info {
  unsigned char chip_type[DCMI_MAX_CHIP_NAME_LEN];
  unsigned char chip_name[DCMI_MAX_CHIP_NAME_LEN];
  unsigned char chip_ver[DCMI_MAX_CHIP_NAME_LEN];
  unsigned int aicore_cnt;
};

struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;  // MB
  unsigned long long memory_available;
  unsigned int freq;
  unsigned long hugepagesize;
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

struct dcmi_hbm_info {
  unsigned long long memory_size;  // MB
  unsigned int freq;
  unsigned long long memory_usage;
  int temp;
  unsigned int bandwith_util_rate;
};

enum dcmi_die_type { NDIE = 0, VDIE = 1 };

struct dcmi_die_id {
  unsigned int soc_die[5];
};

// dcmi_get_device_pcie_info_v2: the chip's PCI address (with its domain).
struct dcmi_pcie_info_all {
  unsigned int venderid;
  unsigned int subvenderid;
  unsigned int deviceid;
  unsigned int subdeviceid;
  int domain;
  unsigned int bdf_busid;
  unsigned int bdf_deviceid;
  unsigned int bdf_funcid;
  unsigned char reserve[32];
};

typedef int (*dcmi_init_fn)(void);
typedef int (*dcmi_get_card_num_list_fn)(int* card_num, int* card_list, int list_len);
typedef int (*dcmi_get_device_num_in_card_fn)(int card_id, int* device_num);
typedef int (*dcmi_get_device_logic_id_fn)(int* device_logic_id, int card_id, int device_id);
typedef int (*dcmi_get_device_chip_info_fn)(int card_id, int device_id, dcmi_chip_info* info);
typedef int (*dcmi_get_device_memory_info_v3_fn)(int card_id, int device_id,
                                                 dcmi_get_memory_info_stru* info);
typedef int (*dcmi_get_device_hbm_info_fn)(int card_id, int device_id, dcmi_hbm_info* info);
typedef int (*dcmi_get_device_health_fn)(int card_id, int device_id, unsigned int* health);
typedef int (*dcmi_get_device_pcie_info_v2_fn)(int card_id, int device_id,
                                               dcmi_pcie_info_all* info);
typedef int (*dcmi_get_device_die_v2_fn)(int card_id, int device_id, dcmi_die_type type,
                                         dcmi_die_id* die);
}
