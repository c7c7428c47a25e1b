// The hand-written fast path for ExtenderArgs accepts only what the full JSON parser would read
// the same way, and declines everything else (the full parser then answers).
#include <gtest/gtest.h>

#include "extender/fast_args.h"

namespace flexai::extender {
namespace {

bool Fast(const std::string& body, std::vector<std::string>* names_out = nullptr) {
  nlohmann::json pod;
  std::vector<std::string> names;
  bool ok = FastParseNodeNamesArgs(body, pod, names);
  if (names_out) *names_out = names;
  return ok;
}

TEST(FastArgs, ReadsTheShapeKubeSchedulerSends) {
  std::vector<std::string> names;
  ASSERT_TRUE(Fast(R"( {"Pod": {"metadata": {"name": "p", "x": "}]"}}, "Nodes": null,
                        "NodeNames": ["n1", "n-2"]} )",
                   &names));
  EXPECT_EQ(names, (std::vector<std::string>{"n1", "n-2"}));
  EXPECT_TRUE(Fast(R"({"NodeNames": [], "Pod": {}})", &names));
  EXPECT_TRUE(names.empty());
}

TEST(FastArgs, DeclinesAnythingUnusual) {
  EXPECT_FALSE(Fast(R"({"Pod": {}, "NodeNames": ["a\"b"]})"));          // escapes
  EXPECT_FALSE(Fast("{\"Pod\": {}, \"NodeNames\": [\"n\xc3\xa9\"]}"));  // non-ASCII
  EXPECT_FALSE(Fast(R"({"Pod": {}, "NodeNames": ["a"], "NodeNames": ["b"]})"));
  EXPECT_FALSE(Fast(R"({"Pod": {}, "Nodes": {"items": []}, "NodeNames": ["a"]})"));
  EXPECT_FALSE(Fast(R"({"Pod": {}, "NodeNames": ["a"]} trailing)"));
  EXPECT_FALSE(Fast(R"({"Pod": {}, "NodeNames": ["a",]})"));
  EXPECT_FALSE(Fast(R"({"Pod": [}, "NodeNames": ["a"]})"));
  EXPECT_FALSE(Fast(R"({"Pod": 3, "NodeNames": ["a"]})"));
  EXPECT_FALSE(Fast(R"({"Pod": {}, "NodeNames": null})"));
  EXPECT_FALSE(Fast(R"({"Pod": {}})"));
  EXPECT_FALSE(Fast(R"({"Other": 1, "Pod": {}, "NodeNames": []})"));
  EXPECT_FALSE(Fast(""));
  EXPECT_FALSE(Fast("{"));
}

TEST(FastArgs, EscapesWhatItWrites) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n");
  EXPECT_EQ(out, R"("a\"b\\c\u000a")");
  EXPECT_EQ(nlohmann::json::parse(out), "a\"b\\c\n");
}

}  // namespace
}  // namespace flexai::extender
