// The mutating webhook sets schedulerName on pods asking for flexai resources, answers in
// AdmissionReview v1 form, and never blocks what it cannot read.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "extender/admission.h"
#include "test_objects.h"

namespace flexai::extender {
namespace {

using testing::Json;

Json Review(const Json& object) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "req-1"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"namespace", "default"},
            {"operation", "CREATE"},
            {"object", object}}}};
}

Json DecodePatch(const Json& response) {
  std::string b64 = response["patch"];
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return Json::parse(out);
}

class AdmissionTest : public ::testing::Test {
 protected:
  Json Call(const Json& review, int want = 200) {
    HttpReply r = HandleAdmissionReview(review.dump(), policy_, "flexai-scheduler");
    EXPECT_EQ(r.status, want) << r.body;
    return Json::parse(r.body);
  }
  partition::SlicePolicy policy_ = partition::DefaultSlicePolicy();
};

TEST_F(AdmissionTest, GpuPodGetsTheFlexaiSchedulerName) {
  Json out = Call(Review(testing::GpuPod("p", 1, 10000)));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], "req-1");
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  Json patch = DecodePatch(out["response"]);
  EXPECT_EQ(patch, Json::parse(R"([{"op":"add","path":"/spec/schedulerName",
                                    "value":"flexai-scheduler"}])"));
}

TEST_F(AdmissionTest, DefaultSchedulerIsReplacedButOtherCustomSchedulersAreKept) {
  Json pod = testing::GpuPod("p", 1);
  pod["spec"]["schedulerName"] = "default-scheduler";
  Json out = Call(Review(pod));
  EXPECT_EQ(DecodePatch(out["response"])[0]["op"], "replace");
  pod["spec"]["schedulerName"] = "volcano";
  EXPECT_FALSE(Call(Review(pod))["response"].contains("patch"));
}

TEST_F(AdmissionTest, PodsWithoutFlexaiResourcesAreAllowedUnchanged) {
  Json out = Call(Review(testing::PlainPod("web")));
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST_F(AdmissionTest, BadReviewsGetBadRequestAndUnreadableObjectsAreAllowed) {
  EXPECT_EQ(HandleAdmissionReview("{", policy_, "s").status, 400);
  EXPECT_EQ(HandleAdmissionReview("[]", policy_, "s").status, 400);
  EXPECT_EQ(HandleAdmissionReview("{\"request\": {}}", policy_, "s").status, 400);
  Json review = Review(Json());
  review["request"]["object"] = "garbage";
  Json out = Call(review);
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_TRUE(out["response"].contains("status"));
}

}  // namespace
}  // namespace flexai::extender
