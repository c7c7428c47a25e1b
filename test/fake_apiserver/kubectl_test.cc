// kubectl (the real client) works against the fake apiserver: discovery, get, apply, annotate,
// watch and delete. Skipped where kubectl is not installed.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_apiserver.h"

namespace flexai::fake {
namespace {

struct CommandResult {
  int status;
  std::string output;
};

CommandResult RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, ""};
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

bool HaveKubectl() { return RunCommand("command -v kubectl").status == 0; }

class KubectlAgainstFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveKubectl()) GTEST_SKIP() << "kubectl is not installed";
    ASSERT_TRUE(server_.Start().ok());
    // An empty kubeconfig keeps the user's real one out of the test.
    kubectl_ = "KUBECONFIG=/dev/null kubectl --server=" + server_.url() + " ";
  }
  FakeApiServer server_;
  std::string kubectl_;
};

TEST_F(KubectlAgainstFakeTest, AppliesGetsAnnotatesWatchesAndDeletes) {
  auto manifest = std::filesystem::temp_directory_path() /
                  ("flexai-kubectl-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(manifest) << R"(apiVersion: v1
kind: Node
metadata: {name: gpu-node-1}
---
apiVersion: v1
kind: Pod
metadata: {name: quarter-gpu, namespace: default}
spec:
  containers:
  - name: cuda
    image: nvidia/cuda
    resources: {limits: {flexai.io/gpu: 1, flexai.io/gpu-memory: 20000}}
)";
  auto applied = RunCommand(kubectl_ + "apply --validate=false -f " + manifest.string());
  EXPECT_EQ(applied.status, 0) << applied.output;
  EXPECT_NE(applied.output.find("pod/quarter-gpu created"), std::string::npos) << applied.output;

  auto got = RunCommand(kubectl_ + "get nodes,pods -A");
  EXPECT_EQ(got.status, 0) << got.output;
  EXPECT_NE(got.output.find("node/gpu-node-1"), std::string::npos) << got.output;
  EXPECT_NE(got.output.find("pod/quarter-gpu"), std::string::npos) << got.output;

  auto annotated = RunCommand(kubectl_ + "annotate pod quarter-gpu flexai.io/note=hello");
  EXPECT_EQ(annotated.status, 0) << annotated.output;
  Reply pod = server_.Get("pods", "default", "quarter-gpu");
  EXPECT_EQ(pod.body["metadata"]["annotations"]["flexai.io/note"], "hello");

  // A watch prints the current pod, then the change; --request-timeout ends it.
  std::string watch_cmd = kubectl_ + "get pods -w --request-timeout=3s";
  std::thread changer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    server_.MergePatch("pods", "default", "quarter-gpu",
                       {{"metadata", {{"labels", {{"tier", "gpu"}}}}}});
  });
  auto watched = RunCommand(watch_cmd);
  changer.join();
  size_t first = watched.output.find("quarter-gpu");
  ASSERT_NE(first, std::string::npos) << watched.output;
  EXPECT_NE(watched.output.find("quarter-gpu", first + 1), std::string::npos) << watched.output;

  auto deleted = RunCommand(kubectl_ + "delete pod quarter-gpu");
  EXPECT_EQ(deleted.status, 0) << deleted.output;
  EXPECT_EQ(server_.Get("pods", "default", "quarter-gpu").status, 404);
  std::filesystem::remove(manifest);
}

TEST_F(KubectlAgainstFakeTest, AppliesTheExampleManifests) {
  std::filesystem::path examples = std::filesystem::path(FLEXAI_SOURCE_DIR) / "deploy/examples";
  if (!std::filesystem::exists(examples)) GTEST_SKIP() << "no deploy/examples in this checkout";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    auto applied = RunCommand(kubectl_ + "apply --validate=false -f " + entry.path().string());
    EXPECT_EQ(applied.status, 0) << entry.path() << ":\n" << applied.output;
  }
  EXPECT_GT(files, 0u);
  auto listed = RunCommand(kubectl_ + "get pods,jobs,configmaps -A");
  EXPECT_EQ(listed.status, 0) << listed.output;
}

}  // namespace
}  // namespace flexai::fake
