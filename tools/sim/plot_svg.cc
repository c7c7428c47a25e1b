// SVG rendering of the paper's Figure 9(a): unallocated GPU % against arrived workload.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "sim/report.h"

namespace flexai::sim {
namespace {

constexpr double kWidth = 860, kHeight = 520;
constexpr double kLeft = 70, kRight = 200, kTop = 40, kBottom = 60;
constexpr double kXMin = 70, kXMax = 130, kYMin = 0;

const char* ColorFor(size_t i) {
  static const char* palette[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#17becf"};
  return palette[i % (sizeof palette / sizeof *palette)];
}

std::string Fmt(const char* format, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

}  // namespace

std::string PlotSvg(const std::vector<RunResult>& runs) {
  // policy -> x -> unallocated values over seeds
  std::vector<std::string> order;
  std::map<std::string, std::map<int, std::vector<double>>> curves;
  for (const auto& r : runs) {
    // Exclusive counts whole GPUs as allocated, so its curve is not comparable: left out.
    if (r.policy == "exclusive") continue;
    if (!curves.count(r.policy)) order.push_back(r.policy);
    for (const auto& p : r.points) {
      if (!std::isnan(p.allocated_pct)) {
        curves[r.policy][static_cast<int>(p.arrived_pct)].push_back(100.0 - p.allocated_pct);
      }
    }
  }
  // Legend and colours in order of the result at 100% arrived: the winner comes first.
  auto at100 = [&](const std::string& p) {
    auto it = curves[p].find(100);
    return it == curves[p].end() ? 1e9 : Percentile(it->second, 50);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const std::string& a, const std::string& b) { return at100(a) < at100(b); });
  double y_max = 10;
  for (auto& [name, xs] : curves) {
    for (auto& [x, v] : xs) {
      if (x >= 90 && x <= kXMax) y_max = std::max(y_max, Percentile(v, 75));
    }
  }
  y_max = std::ceil((y_max + 1) / 5) * 5;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - kXMin) / (kXMax - kXMin) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - kYMin) / (y_max - kYMin) * ph; };

  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + Fmt("%.0f", kWidth) +
                    "' height='" + Fmt("%.0f", kHeight) +
                    "' font-family='sans-serif' font-size='12'>\n"
                    "<rect width='100%' height='100%' fill='white'/>\n";
  svg += "<text x='" + Fmt("%.0f", kWidth / 2 - 60) + "' y='22' font-size='15'>Unallocated GPU " +
         "vs arrived workload (median, 25-75% band)</text>\n";
  for (double x = kXMin; x <= kXMax; x += 10) {
    svg += "<line x1='" + Fmt("%.1f", px(x)) + "' y1='" + Fmt("%.1f", py(0)) + "' x2='" +
           Fmt("%.1f", px(x)) + "' y2='" + Fmt("%.1f", py(y_max)) + "' stroke='#eee'/>\n";
    svg += "<text x='" + Fmt("%.1f", px(x) - 10) + "' y='" + Fmt("%.1f", py(0) + 18) + "'>" +
           Fmt("%.0f", x) + "</text>\n";
  }
  for (double y = 0; y <= y_max; y += 5) {
    svg += "<line x1='" + Fmt("%.1f", px(kXMin)) + "' y1='" + Fmt("%.1f", py(y)) + "' x2='" +
           Fmt("%.1f", px(kXMax)) + "' y2='" + Fmt("%.1f", py(y)) + "' stroke='#eee'/>\n";
    svg += "<text x='" + Fmt("%.1f", kLeft - 28) + "' y='" + Fmt("%.1f", py(y) + 4) + "'>" +
           Fmt("%.0f", y) + "</text>\n";
  }
  svg += "<line x1='" + Fmt("%.1f", px(100)) + "' y1='" + Fmt("%.1f", py(0)) + "' x2='" +
         Fmt("%.1f", px(100)) + "' y2='" + Fmt("%.1f", py(y_max)) +
         "' stroke='#999' stroke-dasharray='4 3'/>\n";
  svg += "<text x='" + Fmt("%.1f", kLeft + pw / 2 - 110) + "' y='" + Fmt("%.1f", kHeight - 15) +
         "'>Arrived GPU request (% of cluster GPU capacity)</text>\n";
  svg += "<text transform='translate(20," + Fmt("%.1f", kTop + ph / 2 + 70) +
         ") rotate(-90)'>Unallocated GPU (% of capacity)</text>\n";

  for (size_t i = 0; i < order.size(); ++i) {
    const auto& xs = curves[order[i]];
    std::string line, upper, lower;
    for (const auto& [x, v] : xs) {
      if (x < kXMin || x > kXMax) continue;
      line += Fmt("%.1f,%.1f ", px(x), py(std::min(y_max, Percentile(v, 50))));
      upper += Fmt("%.1f,%.1f ", px(x), py(std::min(y_max, Percentile(v, 75))));
    }
    for (auto it = xs.rbegin(); it != xs.rend(); ++it) {
      if (it->first < kXMin || it->first > kXMax) continue;
      lower += Fmt("%.1f,%.1f ", px(it->first), py(std::min(y_max, Percentile(it->second, 25))));
    }
    svg += std::string("<polygon points='") + upper + lower + "' fill='" + ColorFor(i) +
           "' fill-opacity='0.15' stroke='none'/>\n";
    svg += std::string("<polyline points='") + line + "' fill='none' stroke='" + ColorFor(i) +
           "' stroke-width='2'/>\n";
    double ly = kTop + 20 + 20 * static_cast<double>(i);
    svg += "<line x1='" + Fmt("%.1f", kWidth - kRight + 15) + "' y1='" + Fmt("%.1f", ly) +
           "' x2='" + Fmt("%.1f", kWidth - kRight + 40) + "' y2='" + Fmt("%.1f", ly) +
           "' stroke='" + ColorFor(i) + "' stroke-width='3'/>\n";
    svg += "<text x='" + Fmt("%.1f", kWidth - kRight + 46) + "' y='" + Fmt("%.1f", ly + 4) + "'>" +
           order[i] + Fmt(" %.2f%%", at100(order[i])) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace flexai::sim
