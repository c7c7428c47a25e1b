#include "extender/admission.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "extender/pod_intent.h"
#include "kube/operations.h"

namespace flexai::extender {
namespace {

using Json = nlohmann::json;

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

HttpReply Review(const Json& response) {
  Json review = {
      {"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}};
  return {200, review.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json"};
}

}  // namespace

HttpReply HandleAdmissionReview(std::string_view body, const partition::SlicePolicy& policy,
                                const std::string& scheduler_name) {
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return BadRequest("AdmissionReview body is not a JSON object");
  }
  auto request = doc.find("request");
  if (request == doc.end() || !request->is_object()) {
    return BadRequest("AdmissionReview has no request");
  }
  auto uid = request->find("uid");
  if (uid == request->end() || !uid->is_string()) {
    return BadRequest("AdmissionReview request has no uid");
  }
  Json response = {{"uid", *uid}, {"allowed", true}};
  auto object = request->find("object");
  std::string kind;
  if (auto k = request->find("kind"); k != request->end() && k->is_object()) {
    kind = kube::StringAt(*k, "kind");
  }
  if (object == request->end() || !object->is_object() || (!kind.empty() && kind != "Pod")) {
    response["status"] = {{"message", "flexai webhook: not a pod; left unchanged"}};
    return Review(response);
  }
  PodIntent intent = ParsePodIntent(*object, policy);
  if (!intent.wants_chips) return Review(response);
  Json spec = kube::ObjectAt(*object, "spec");
  std::string current = kube::StringAt(spec, "schedulerName");
  // Respect a pod that names some other custom scheduler on purpose.
  if (current == scheduler_name || (!current.empty() && current != "default-scheduler")) {
    return Review(response);
  }
  Json patch = Json::array({{{"op", current.empty() ? "add" : "replace"},
                             {"path", "/spec/schedulerName"},
                             {"value", scheduler_name}}});
  response["patchType"] = "JSONPatch";
  response["patch"] = Base64(patch.dump());
  spdlog::info("webhook: pod {}/{} asks for flexai resources; schedulerName set to {}",
               kube::StringAt(*request, "namespace"),
               intent.name.empty() ? kube::StringAt(*request, "name") : intent.name,
               scheduler_name);
  return Review(response);
}

}  // namespace flexai::extender
