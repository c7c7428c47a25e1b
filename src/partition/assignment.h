// The placement of one pod: which chips each container got, with what amounts, on which node.
// This is what the Hi Scheduler records on the pod and what the device plugin hands to kubelet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partition/slice_request.h"

namespace flexai::partition {

// Host (non-accelerator) resources a pod takes on its node.
struct HostResources {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
};

struct ChipGrant {
  int chip_index = 0;
  std::string chip_uuid;
  int64_t memory_mib = 0;
  int cores = 0;
  bool exclusive = false;
};

struct ContainerAssignment {
  std::string container;
  std::vector<ChipGrant> grants;
};

struct PodAssignment {
  std::string pod_uid;
  std::string node;
  HostResources host;
  std::vector<ContainerAssignment> containers;
};

// One container's request, and a pod's whole request.
struct ContainerRequest {
  std::string name;
  SliceRequest slice;
};

struct PodRequest {
  std::string uid;
  HostResources host;
  std::vector<ContainerRequest> containers;  // only the containers that ask for chips

  // Total chip share asked, in percent of one chip (a whole chip is 100); used for reporting.
  int64_t ChipSharePercent() const;
};

}  // namespace flexai::partition
