// Each GPU's activity folder on the host, <shared_host_dir>/activity-<GPU UUID>: the hard links
// to every hook container's board of the GPU, made by Allocate.
#pragma once

#include <string>

#include "device_plugin/plugin_settings.h"

namespace flexai::device_plugin {

std::string ActivityFolder(const PluginSettings& settings, const std::string& gpu_uuid);

// Makes `folder` (and its parents) if missing, mode 0755 whatever this daemon's umask, so that
// every container's processes, of any user, can list it and read the boards; a file left where
// it goes (earlier versions kept one shared file there) is replaced. Empty, or what went wrong.
std::string PrepareActivityFolder(const std::string& folder);

}  // namespace flexai::device_plugin
