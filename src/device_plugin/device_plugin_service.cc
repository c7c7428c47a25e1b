#include "device_plugin/device_plugin_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "device_plugin/device_id.h"
#include "device_plugin/preferred_allocation.h"

namespace flexai::device_plugin {
namespace {

// How often a stream wakes to notice cancellation when nothing changes.
constexpr std::chrono::milliseconds kStreamPoll{200};
// kubelet's device plugin client keeps gRPC's default receive limit: a larger message fails on
// its side, and it sees no devices at all.
constexpr size_t kKubeletMaxMessageBytes = 4 * 1024 * 1024;

// Why kubelet cannot take `list` ("" when it can).
std::string TooLargeForKubelet(const v1beta1::ListAndWatchResponse& list, size_t chips) {
  const size_t bytes = list.ByteSizeLong();
  const size_t devices = static_cast<size_t>(list.devices_size());
  if (bytes <= kKubeletMaxMessageBytes || devices == 0 || chips == 0) return "";
  const size_t fitting_slices = kKubeletMaxMessageBytes / (bytes / devices + 1) / chips;
  return fmt::format(
      "{:.1f} MiB ({} devices: {} chips x {} slices), more than the 4 MiB kubelet accepts: "
      "kubelet gets no devices at all; set the policy's sharing.maxSlicesPerChip (or the node "
      "override's) to {} or less",
      static_cast<double>(bytes) / (1024.0 * 1024.0), devices, chips, devices / chips,
      fitting_slices);
}

grpc::StatusCode CodeFor(AllocateFailure failure) {
  switch (failure) {
    case AllocateFailure::kNone:
      return grpc::StatusCode::OK;
    case AllocateFailure::kBadDeviceIds:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case AllocateFailure::kNoAssignment:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case AllocateFailure::kClusterUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

DevicePluginService::DevicePluginService(const ChipInventory& inventory, Allocator& allocator,
                                         std::shared_ptr<const SettingsStore> settings)
    : inventory_(inventory), allocator_(allocator), settings_(std::move(settings)) {}

void DevicePluginService::StopStreams() {
  stopping_ = true;
  inventory_.WakeAll();
}

void DevicePluginService::ResumeStreams() { stopping_ = false; }

v1beta1::ListAndWatchResponse DevicePluginService::DeviceList() const {
  v1beta1::ListAndWatchResponse response;
  const int max_slices = settings_->Current()->max_slices_per_chip;
  for (const auto& chip : inventory_.chips()) {
    for (int slot = 0; slot < max_slices; ++slot) {
      v1beta1::Device* device = response.add_devices();
      device->set_id(FormatDeviceId(chip.uuid, slot));
      device->set_health(std::string(partition::HealthName(chip.health)));
      if (chip.numa_node >= 0) device->mutable_topology()->add_nodes()->set_id(chip.numa_node);
    }
  }
  return response;
}

grpc::Status DevicePluginService::GetDevicePluginOptions(grpc::ServerContext*,
                                                         const v1beta1::Empty*,
                                                         v1beta1::DevicePluginOptions* response) {
  response->set_pre_start_required(false);
  response->set_get_preferred_allocation_available(true);
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::ListAndWatch(
    grpc::ServerContext* context, const v1beta1::Empty*,
    grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) {
  StreamDeviceLists(*writer, [context] { return context->IsCancelled(); });
  return grpc::Status::OK;
}

void DevicePluginService::StreamDeviceLists(
    grpc::ServerWriterInterface<v1beta1::ListAndWatchResponse>& writer,
    const std::function<bool()>& cancelled) {
  uint64_t sent_version = inventory_.version();
  const std::string resource = settings_->Current()->resource_name;
  spdlog::info("kubelet opened ListAndWatch for {}", resource);
  if (SendDeviceList(writer, resource)) {
    while (!stopping_ && !cancelled()) {
      uint64_t now = inventory_.WaitForChange(sent_version, kStreamPoll);
      if (now == sent_version || stopping_) continue;
      sent_version = now;
      if (!SendDeviceList(writer, resource)) break;
      spdlog::info("sent updated device list for {} to kubelet", resource);
    }
  }
  spdlog::info("ListAndWatch for {} ended", resource);
}

bool DevicePluginService::SendDeviceList(
    grpc::ServerWriterInterface<v1beta1::ListAndWatchResponse>& writer,
    const std::string& resource) const {
  const v1beta1::ListAndWatchResponse list = DeviceList();
  if (std::string why = TooLargeForKubelet(list, inventory_.chips().size()); !why.empty()) {
    spdlog::error("the device list for {} is {}", resource, why);
  }
  if (writer.Write(list)) return true;
  spdlog::warn(
      "sending the device list for {} to kubelet failed (the stream was closed or broke); this "
      "ListAndWatch ends, kubelet gets the list again when it reopens one",
      resource);
  return false;
}

grpc::Status DevicePluginService::GetPreferredAllocation(
    grpc::ServerContext*, const v1beta1::PreferredAllocationRequest* request,
    v1beta1::PreferredAllocationResponse* response) {
  std::vector<partition::Chip> chips = inventory_.chips();
  for (const auto& container : request->container_requests()) {
    PreferredAllocationInput input;
    input.available.assign(container.available_deviceids().begin(),
                           container.available_deviceids().end());
    input.must_include.assign(container.must_include_deviceids().begin(),
                              container.must_include_deviceids().end());
    input.size = container.allocation_size();
    input.hint_chips = allocator_.PendingChips(static_cast<size_t>(std::max(input.size, 0)));
    auto* out = response->add_container_responses();
    for (const auto& id : ChoosePreferredDevices(chips, input)) out->add_deviceids(id);
  }
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::Allocate(grpc::ServerContext*,
                                           const v1beta1::AllocateRequest* request,
                                           v1beta1::AllocateResponse* response) {
  std::vector<std::vector<std::string>> containers;
  for (const auto& container : request->container_requests()) {
    containers.emplace_back(container.devices_ids().begin(), container.devices_ids().end());
  }
  std::vector<AllocateOutcome> outcomes;
  if (Status done = allocator_.AllocateRequest(containers, outcomes); !done) {
    spdlog::warn("Allocate of {} container(s) refused: {}", containers.size(), done.message());
    return grpc::Status(CodeFor(outcomes.back().failure), done.message());
  }
  for (const auto& outcome : outcomes) {
    auto* out = response->add_container_responses();
    for (const auto& [key, value] : outcome.setup.env) (*out->mutable_envs())[key] = value;
    for (const auto& mount : outcome.setup.mounts) {
      auto* m = out->add_mounts();
      m->set_container_path(mount.container_path);
      m->set_host_path(mount.host_path);
      m->set_read_only(mount.read_only);
    }
  }
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::PreStartContainer(grpc::ServerContext*,
                                                    const v1beta1::PreStartContainerRequest*,
                                                    v1beta1::PreStartContainerResponse*) {
  return grpc::Status::OK;
}

}  // namespace flexai::device_plugin
