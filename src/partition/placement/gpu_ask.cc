#include "partition/placement/gpu_ask.h"

#include <algorithm>
#include <numeric>

namespace flexai::partition {

GpuAsk AskOf(const PodRequest& pod) {
  for (const auto& c : pod.containers) {
    if (c.slice.chips <= 0) continue;
    return {c.slice.exclusive() ? 1000 : c.slice.cores * 10, c.slice.chips};
  }
  return {};
}

TaskShape ShapeOf(const PodRequest& pod) {
  GpuAsk ask = AskOf(pod);
  TaskShape shape{pod.host.cpu_milli, ask.milli, ask.num, "", pod.host.memory_mib};
  for (const auto& c : pod.containers) {
    for (size_t i = 0; i < c.slice.allowed_models.size(); ++i) {
      if (!shape.gpu_spec.empty()) shape.gpu_spec += "|";
      shape.gpu_spec += c.slice.allowed_models[i];
    }
    if (!c.slice.allowed_models.empty()) break;
  }
  return shape;
}

TaskShape ShapeOf(const PodAssignment& placed) {
  TaskShape shape{placed.host.cpu_milli, 0, 0, "", placed.host.memory_mib};
  for (const auto& c : placed.containers) {
    if (c.grants.empty()) continue;
    const ChipGrant& g = c.grants.front();
    shape.gpu_milli = g.exclusive ? 1000 : g.cores * 10;
    shape.num_gpu = static_cast<int>(c.grants.size());
    break;
  }
  return shape;
}

int ChipLeftMilli(const NodeState& node, int i) {
  const ChipLedger& l = node.ledger(i);
  if (!node.chip(i).healthy() || l.held_exclusively()) return 0;
  return l.free_cores() * 10;
}

int64_t NodeLeftMilli(const NodeState& node) {
  int64_t total = 0;
  for (int i = 0; i < node.chip_count(); ++i) total += ChipLeftMilli(node, i);
  return total;
}

std::vector<int> TightestFirst(const NodeState& node) {
  std::vector<int> order(static_cast<size_t>(node.chip_count()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return ChipLeftMilli(node, a) < ChipLeftMilli(node, b); });
  return order;
}

std::optional<NodeChoice> ChooseInOrder(const NodeState& node, const PodRequest& pod,
                                        const std::vector<int>& order, double score) {
  auto chips = PickChipsInOrder(node, pod, order);
  if (!chips) return std::nullopt;
  return NodeChoice{score, std::move(*chips)};
}

bool Fits(const NodeState& node, const PodRequest& pod) {
  if (!node.HostFits(pod.host)) return false;
  for (const auto& c : pod.containers) {
    if (ChipCount(node.FeasibleChips(c.slice)) < c.slice.chips) return false;
  }
  return true;
}

}  // namespace flexai::partition
