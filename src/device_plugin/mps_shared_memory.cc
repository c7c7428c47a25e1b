#include "device_plugin/mps_shared_memory.h"

#include <filesystem>

namespace flexai::device_plugin {

Status PrepareMpsSharedMemory(const std::string& shared_dir, const std::string& dev_shm) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(shared_dir, error);
  if (error) return Error{"MPS shared memory folder " + shared_dir + ": " + error.message()};
  // Any container user must be able to create its segments, and only remove its own.
  fs::permissions(shared_dir, fs::perms::all | fs::perms::sticky_bit, fs::perm_options::replace,
                  error);
  if (error) return Error{"MPS shared memory folder " + shared_dir + ": " + error.message()};
  if (!fs::equivalent(shared_dir, dev_shm, error) || error) {
    return Error{
        dev_shm + " is not " + shared_dir +
        ": MPS containers get that folder as /dev/shm and will not reach the MPS server; "
        "mount the host's " +
        shared_dir + " at " + dev_shm +
        " in the container that runs the MPS daemons (chart: devicePlugin.mps.enabled=true)"};
  }
  return Status::Ok();
}

}  // namespace flexai::device_plugin
