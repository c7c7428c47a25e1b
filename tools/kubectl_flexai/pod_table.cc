#include "kubectl_flexai/pod_table.h"

#include <algorithm>
#include <sstream>

namespace flexai::kubectl {
namespace {

std::string ChipLabel(const ClusterSnapshot& snapshot, const std::string& node,
                      const std::string& uuid) {
  if (const NodeView* view = snapshot.FindNode(node)) {
    for (const auto& chip : view->chips) {
      if (chip.chip.uuid == uuid) return "#" + std::to_string(chip.chip.index) + " " + uuid;
    }
  }
  return "? " + uuid;
}

std::string Or(const std::string& text, const char* fallback) {
  return text.empty() ? fallback : text;
}

}  // namespace

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
  return out.str();
}

std::string RenderPods(const ClusterSnapshot& snapshot,
                       const std::vector<std::string>& resource_names, const std::string& ns) {
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "POD", "NODE", "PHASE", "BIND", "CONTAINER", "CHIP", "MEMORY", "CORES"}};
  for (const auto& pod : snapshot.pods) {
    if (!ns.empty() && pod.ns != ns) continue;
    const std::string phase = Or(pod.phase, "-");
    if (!pod.assignment_error.empty()) {
      rows.push_back({pod.ns, pod.name, Or(pod.node, "-"), phase, Or(pod.bind_phase, "-"), "-",
                      "bad assignment: " + pod.assignment_error, "-", "-"});
      continue;
    }
    if (!pod.assignment) {
      if (RequestsFlexaiResource(pod, resource_names) && !pod.finished()) {
        rows.push_back(
            {pod.ns, pod.name, Or(pod.node, "-"), phase, "-", "-", "(not assigned yet)", "-", "-"});
      }
      continue;
    }
    for (const auto& container : pod.assignment->containers) {
      for (const auto& grant : container.grants) {
        rows.push_back({pod.ns, pod.name, pod.assignment->node, phase, Or(pod.bind_phase, "-"),
                        container.container,
                        ChipLabel(snapshot, pod.assignment->node, grant.chip_uuid),
                        grant.exclusive ? "whole" : std::to_string(grant.memory_mib) + "Mi",
                        grant.exclusive ? "100%" : std::to_string(grant.cores) + "%"});
      }
    }
  }
  if (rows.size() == 1) return "No flexai pods" + (ns.empty() ? "" : " in namespace " + ns) + "\n";
  return FormatTable(rows);
}

}  // namespace flexai::kubectl
