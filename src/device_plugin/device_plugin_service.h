// The DevicePlugin gRPC service kubelet talks to for one resource: lists virtual devices with
// health and NUMA topology, streams changes, picks preferred devices, and answers Allocate.
// Holds no state of its own beyond references: a kubelet restart re-serves the same object.
// The device list follows the current settings: after a policy reload changes max slices, the
// daemon bumps the inventory version and every open stream sends the new list.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "device_plugin/allocator.h"
#include "device_plugin/chip_inventory.h"
#include "device_plugin/settings_store.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace flexai::device_plugin {

class DevicePluginService final : public v1beta1::DevicePlugin::Service {
 public:
  DevicePluginService(const ChipInventory& inventory, Allocator& allocator,
                      std::shared_ptr<const SettingsStore> settings);

  // Ends every ListAndWatch stream (daemon shutdown or socket re-serve).
  void StopStreams();
  void ResumeStreams();

  // The device list as kubelet sees it: `max slices` virtual devices per chip.
  v1beta1::ListAndWatchResponse DeviceList() const;
  // ListAndWatch's work on any writer (tests bring their own): sends the device list, then again
  // on every change, until `cancelled()`, StopStreams() or a failed write (logged). A list
  // larger than kubelet accepts (4 MiB) is logged as an error naming what to change.
  void StreamDeviceLists(grpc::ServerWriterInterface<v1beta1::ListAndWatchResponse>& writer,
                         const std::function<bool()>& cancelled);

  grpc::Status GetDevicePluginOptions(grpc::ServerContext* context, const v1beta1::Empty* request,
                                      v1beta1::DevicePluginOptions* response) override;
  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty* request,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override;
  grpc::Status GetPreferredAllocation(grpc::ServerContext* context,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override;
  grpc::Status Allocate(grpc::ServerContext* context, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override;
  grpc::Status PreStartContainer(grpc::ServerContext* context,
                                 const v1beta1::PreStartContainerRequest* request,
                                 v1beta1::PreStartContainerResponse* response) override;

 private:
  bool SendDeviceList(grpc::ServerWriterInterface<v1beta1::ListAndWatchResponse>& writer,
                      const std::string& resource) const;

  const ChipInventory& inventory_;
  Allocator& allocator_;
  const std::shared_ptr<const SettingsStore> settings_;
  std::atomic<bool> stopping_{false};
};

}  // namespace flexai::device_plugin
