#include "device_plugin/activity_folders.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace flexai::device_plugin {

std::string ActivityFolder(const PluginSettings& settings, const std::string& gpu_uuid) {
  return settings.shared_host_dir + "/" + std::string(kActivityBoardPrefix) + gpu_uuid;
}

std::string PrepareActivityFolder(const std::string& folder) {
  std::error_code ignored;  // a missing parent shows in mkdir's error below
  std::filesystem::create_directories(std::filesystem::path(folder).parent_path(), ignored);
  struct stat info {};
  if (lstat(folder.c_str(), &info) == 0 && !S_ISDIR(info.st_mode)) unlink(folder.c_str());
  if (mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    return "cannot create " + folder + ": " + std::strerror(errno);
  }
  if (chmod(folder.c_str(), 0755) != 0) return folder + ": " + std::strerror(errno);
  return {};
}

}  // namespace flexai::device_plugin
