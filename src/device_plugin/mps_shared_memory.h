// MPS clients talk to their server through the pipe directory and through POSIX shared memory in
// /dev/shm, so the MPS daemons (run inside the device plugin's container) and every MPS container
// must see one /dev/shm: the host folder MpsSharedMemoryDir(settings), which Allocate mounts at
// /dev/shm in MPS containers and the chart mounts at /dev/shm in the device plugin's container
// (devicePlugin.mps.enabled).
#pragma once

#include <string>

#include "partition/result.h"

namespace flexai::device_plugin {

// Creates `shared_dir` when missing (mode 1777, as /dev/shm) and checks that `dev_shm` is that
// same folder; the error says what to mount where.
Status PrepareMpsSharedMemory(const std::string& shared_dir,
                              const std::string& dev_shm = "/dev/shm");

}  // namespace flexai::device_plugin
