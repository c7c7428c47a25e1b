#include "partition/assignment_codec.h"

#include <gtest/gtest.h>

namespace flexai::partition {
namespace {

TEST(AssignmentCodec, RoundTripsEveryField) {
  PodAssignment a;
  a.pod_uid = "uid-1";
  a.node = "node-a";
  a.host = {2500, 4096};
  a.containers.push_back(
      {"train", {{0, "GPU-aaa", 81559, 100, true}, {1, "GPU-bbb", 81559, 100, true}}});
  a.containers.push_back({"side", {{2, "GPU-ccc", 20000, 25, false}}});
  std::string text = EncodeAssignment(a);
  EXPECT_EQ(text,
            "node=node-a;cpu=2500;mem=4096|train=GPU-aaa:81559:100:x,GPU-bbb:81559:100:x|"
            "side=GPU-ccc:20000:25");
  auto back = DecodeAssignment(text, "uid-1");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->node, "node-a");
  EXPECT_EQ(back->host.cpu_milli, 2500);
  ASSERT_EQ(back->containers.size(), 2u);
  EXPECT_EQ(back->containers[0].grants[1].chip_uuid, "GPU-bbb");
  EXPECT_TRUE(back->containers[0].grants[1].exclusive);
  EXPECT_EQ(back->containers[1].grants[0].cores, 25);
  EXPECT_FALSE(back->containers[1].grants[0].exclusive);
  EXPECT_EQ(EncodeAssignment(*back), text);
}

TEST(AssignmentCodec, RejectsMalformedText) {
  for (const char* bad : {"", "cpu=1", "node=n;cpu=abc", "node=n;gpu=1",
                          "node=n|c=", "node=n|c=GPU-1:10", "node=n|c=GPU-1:10:200",
                          "node=n|c=GPU-1:10:5:y", "node=n|=GPU-1:10:5", "node=n|c=GPU-1:-5:5"}) {
    auto r = DecodeAssignment(bad, "u");
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("malformed assignment"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace flexai::partition
