#include <gtest/gtest.h>

#include <filesystem>

#include "sim/embedded_workload.h"
#include "sim/trace.h"

namespace flexai::sim {
namespace {

constexpr const char* kPodHeader =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";

TEST(TraceCsv, ReadsNodesAndTasks) {
  auto nodes =
      ParseNodesCsv("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n", "n.csv");
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].gpus, 2);
  EXPECT_EQ((*nodes)[0].model, "P100");
  auto tasks = ParseTasksCsv(std::string(kPodHeader) +
                                 "p0,6000,12288,1,460,V100M16|V100M32,LS,Running,0,100,0\n"
                                 "p1,4000,0,0,0,,BE,Running,5,,5\n",
                             "p.csv");
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].gpu_milli, 460);
  EXPECT_EQ((*tasks)[0].gpu_spec, (std::vector<std::string>{"V100M16", "V100M32"}));
  EXPECT_EQ((*tasks)[0].deletion_time, 100);
  EXPECT_EQ((*tasks)[1].deletion_time, -1);
  EXPECT_EQ((*tasks)[1].gpu_demand_milli(), 0);
}

TEST(TraceCsv, FiveColumnMultiGpuFilesAreAccepted) {
  auto tasks =
      ParseTasksCsv("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,10,8,1000\n", "m");
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ((*tasks)[0].gpu_demand_milli(), 8000);
}

TEST(TraceCsv, ErrorsNameFileAndLine) {
  struct Case {
    std::string text;
    std::string expected;
  };
  std::vector<Case> cases = {
      {std::string(kPodHeader) +
           "p0,6000,12288,1,460,,LS,Running,0,100,0\np1,abc,1,1,1000,,LS,R,0,1,0\n",
       "p.csv:3: cpu_milli 'abc' is not an integer"},
      {std::string(kPodHeader) + "p0,6000,12288,1,1460,,LS,Running,0,100,0\n",
       "p.csv:2: gpu_milli 1460 is outside 0..1000"},
      {std::string(kPodHeader) + "p0,6000,12288,2,500,,LS,Running,0,100,0\n",
       "p.csv:2: a task with 2 GPUs must take whole GPUs"},
      {std::string(kPodHeader) + "p0,6000,12288\n", "p.csv:2: expected 11 fields, got 3"},
      {"name,cpu_milli\n", "p.csv:1: header lacks column 'memory_mib'"},
      {"", "p.csv: empty file"},
  };
  for (const auto& c : cases) {
    auto r = ParseTasksCsv(c.text, "p.csv");
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_NE(r.error().message.find(c.expected), std::string::npos) << r.error().message;
  }
  auto n = ParseNodesCsv("sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,2,\n", "n.csv");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("n.csv:2: node n0 has GPUs but no model"), std::string::npos);
}

TEST(TraceCsv, MissingFileIsAnError) {
  auto r = ReadNodesCsv("/nonexistent/nodes.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot open"), std::string::npos);
}

TEST(EmbeddedWorkload, HasTheOpenbDefaultComposition) {
  Trace t = EmbeddedDefaultTrace();
  EXPECT_EQ(t.nodes.size(), 1213u);
  EXPECT_EQ(t.total_gpus(), 6212);
  EXPECT_EQ(t.tasks.size(), 8152u);
  int64_t demand = 0, cpu_only = 0;
  for (const auto& task : t.tasks) {
    demand += task.gpu_demand_milli();
    cpu_only += task.num_gpu == 0;
  }
  EXPECT_EQ(demand, 6086800);  // 6,086.8 GPUs, as the trace README says
  EXPECT_EQ(cpu_only, 1088);   // 13.3% CPU-only
}

TEST(EmbeddedWorkload, MatchesTheRealTraceWhenPresent) {
  std::string dir = FLEXAI_SHARED_TRACES;
  if (!std::filesystem::exists(dir + "/openb_pod_list_default.csv")) {
    GTEST_SKIP() << "shared trace not present at " << dir;
  }
  auto nodes = ReadNodesCsv(dir + "/openb_node_list_gpu_node.csv");
  auto tasks = ReadTasksCsv(dir + "/openb_pod_list_default.csv");
  ASSERT_TRUE(nodes.ok() && tasks.ok());
  Trace embedded = EmbeddedDefaultTrace();
  EXPECT_EQ(nodes->size(), embedded.nodes.size());
  EXPECT_EQ(tasks->size(), embedded.tasks.size());
  std::multiset<std::tuple<int64_t, int64_t, int, int>> a, b;
  for (const auto& t : *tasks) a.insert({t.cpu_milli, t.memory_mib, t.num_gpu, t.gpu_milli});
  for (const auto& t : embedded.tasks)
    b.insert({t.cpu_milli, t.memory_mib, t.num_gpu, t.gpu_milli});
  EXPECT_TRUE(a == b);
}

}  // namespace
}  // namespace flexai::sim
