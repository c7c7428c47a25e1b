#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "sim/trace.h"

namespace flexai::sim {
namespace {

std::vector<std::string_view> SplitCsvLine(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

bool ParseInt(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Walks a CSV text: checks the header has the required columns, then calls `row` with a column
// lookup per data line. Stops at the first error, which names source:line.
template <typename RowFn>
Status ForEachRow(const std::string& text, const std::string& source,
                  const std::vector<std::string>& required, RowFn row) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::map<std::string, size_t> column;
  auto where = [&] { return source + ":" + std::to_string(line_no) + ": "; };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1) {
      auto names = SplitCsvLine(line);
      for (size_t i = 0; i < names.size(); ++i) column[std::string(names[i])] = i;
      for (const auto& r : required) {
        if (!column.count(r)) return Error{where() + "header lacks column '" + r + "'"};
      }
      continue;
    }
    if (line.empty()) continue;
    auto fields = SplitCsvLine(line);
    if (fields.size() != column.size()) {
      return Error{where() + "expected " + std::to_string(column.size()) + " fields, got " +
                   std::to_string(fields.size())};
    }
    auto get = [&](const std::string& name) -> std::string_view {
      auto it = column.find(name);
      return it == column.end() ? std::string_view{} : fields[it->second];
    };
    auto has = [&](const std::string& name) { return column.count(name) > 0; };
    std::string problem = row(get, has);
    if (!problem.empty()) return Error{where() + problem};
  }
  if (line_no == 0) return Error{source + ": empty file (no header)"};
  return Status::Ok();
}

template <typename Get>
std::string ReadInt(Get& get, const char* name, int64_t& out, int64_t min, int64_t max) {
  std::string_view v = get(name);
  if (!ParseInt(v, out)) return std::string(name) + " '" + std::string(v) + "' is not an integer";
  if (out < min || out > max) {
    return std::string(name) + " " + std::to_string(out) + " is outside " + std::to_string(min) +
           ".." + std::to_string(max);
  }
  return {};
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open"};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int64_t Trace::total_gpus() const {
  int64_t total = 0;
  for (const auto& n : nodes) total += n.gpus;
  return total;
}

Result<std::vector<TraceNode>> ParseNodesCsv(const std::string& text, const std::string& source) {
  std::vector<TraceNode> nodes;
  Status s = ForEachRow(
      text, source, {"sn", "cpu_milli", "memory_mib", "gpu", "model"},
      [&](auto& get, auto&) -> std::string {
        TraceNode n;
        n.name = std::string(get("sn"));
        if (n.name.empty()) return "empty node name (sn)";
        int64_t gpus = 0;
        if (auto e = ReadInt(get, "cpu_milli", n.cpu_milli, 0, int64_t{1} << 40); !e.empty())
          return e;
        if (auto e = ReadInt(get, "memory_mib", n.memory_mib, 0, int64_t{1} << 40); !e.empty())
          return e;
        if (auto e = ReadInt(get, "gpu", gpus, 0, 64); !e.empty()) return e;
        n.gpus = static_cast<int>(gpus);
        n.model = std::string(get("model"));
        if (n.gpus > 0 && n.model.empty()) return "node " + n.name + " has GPUs but no model";
        nodes.push_back(std::move(n));
        return {};
      });
  if (!s.ok()) return Error{s.message()};
  return nodes;
}

Result<std::vector<TraceTask>> ParseTasksCsv(const std::string& text, const std::string& source) {
  std::vector<TraceTask> tasks;
  Status s = ForEachRow(
      text, source, {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"},
      [&](auto& get, auto& has) -> std::string {
        TraceTask t;
        t.name = std::string(get("name"));
        if (t.name.empty()) return "empty task name";
        int64_t num_gpu = 0, gpu_milli = 0;
        if (auto e = ReadInt(get, "cpu_milli", t.cpu_milli, 0, int64_t{1} << 40); !e.empty())
          return e;
        if (auto e = ReadInt(get, "memory_mib", t.memory_mib, 0, int64_t{1} << 40); !e.empty())
          return e;
        if (auto e = ReadInt(get, "num_gpu", num_gpu, 0, 64); !e.empty()) return e;
        if (auto e = ReadInt(get, "gpu_milli", gpu_milli, 0, 1000); !e.empty()) return e;
        t.num_gpu = static_cast<int>(num_gpu);
        t.gpu_milli = static_cast<int>(gpu_milli);
        if (t.num_gpu == 0) t.gpu_milli = 0;
        if (t.num_gpu > 0 && t.gpu_milli == 0) return "num_gpu > 0 but gpu_milli is 0";
        if (t.num_gpu > 1 && t.gpu_milli != 1000) {
          return "a task with " + std::to_string(t.num_gpu) +
                 " GPUs must take whole GPUs (gpu_milli 1000)";
        }
        if (has("gpu_spec")) {
          std::string_view spec = get("gpu_spec");
          size_t start = 0;
          while (!spec.empty() && start <= spec.size()) {
            size_t bar = spec.find('|', start);
            std::string_view m =
                spec.substr(start, bar == std::string_view::npos ? bar : bar - start);
            if (!m.empty()) t.gpu_spec.emplace_back(m);
            if (bar == std::string_view::npos) break;
            start = bar + 1;
          }
        }
        if (has("creation_time") && !get("creation_time").empty()) {
          if (auto e = ReadInt(get, "creation_time", t.creation_time, 0, int64_t{1} << 50);
              !e.empty())
            return e;
        }
        if (has("deletion_time") && !get("deletion_time").empty()) {
          if (auto e = ReadInt(get, "deletion_time", t.deletion_time, 0, int64_t{1} << 50);
              !e.empty())
            return e;
        }
        if (has("qos")) {
          std::string_view q = get("qos");
          t.priority = q == "LS" ? 2 : q == "Guaranteed" ? 1 : 0;
        }
        tasks.push_back(std::move(t));
        return {};
      });
  if (!s.ok()) return Error{s.message()};
  return tasks;
}

Result<std::vector<TraceNode>> ReadNodesCsv(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.error();
  return ParseNodesCsv(*text, path);
}

Result<std::vector<TraceTask>> ReadTasksCsv(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.error();
  return ParseTasksCsv(*text, path);
}

}  // namespace flexai::sim
