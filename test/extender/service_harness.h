// Runs the real hi-scheduler service in process against a fake apiserver and talks to its HTTP
// endpoints as kube-scheduler does: what the service-level integration tests share.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "extender/service.h"
#include "kube/client.h"
#include "kube/operations.h"
#include "test_objects.h"

namespace flexai::extender::testing {

// Starts a service with `options` (listening on a free loopback port) against `api_url`, waits
// until its caches have synced and keeps it in `services`; returns its HTTP port.
inline int StartReadyService(const std::string& api_url, ServiceOptions options,
                             std::vector<std::unique_ptr<HiSchedulerService>>& services) {
  options.listen = "127.0.0.1:0";
  auto client = kube::KubeClient::Create(kube::PlainServerConfig(api_url));
  auto service = HiSchedulerService::Create(options, std::move(client.value()));
  EXPECT_TRUE(service.ok()) << service.error().message;
  auto port = (*service)->Start();
  EXPECT_TRUE(port.ok());
  HiSchedulerService* raw = service->get();
  services.push_back(std::move(*service));
  EXPECT_TRUE(Eventually([&] { return raw->ready(); }));
  return port.ok() ? *port : 0;
}

// A keep-alive client of the service's endpoints on `port`.
inline std::unique_ptr<kube::KubeClient> ServiceClient(int port) {
  return std::move(
      kube::KubeClient::Create(kube::PlainServerConfig("http://127.0.0.1:" + std::to_string(port)))
          .value());
}

// POST /bind as kube-scheduler sends it; the ExtenderBindingResult's Error ("" = bound), or
// "HTTP <status>" when the call itself failed.
inline std::string BindOverHttp(kube::KubeClient& http, const Json& pod, const std::string& node,
                                const std::string& pod_namespace = "default") {
  auto r = http.Post("/bind", {{"PodName", kube::NameOf(pod)},
                               {"PodNamespace", pod_namespace},
                               {"PodUID", kube::UidOf(pod)},
                               {"Node", node}});
  if (r.status != 200) return "HTTP " + std::to_string(r.status);
  return r.body.value("Error", "missing Error field");
}

}  // namespace flexai::extender::testing
