#include "partition/assignment_codec.h"

#include <charconv>
#include <string_view>
#include <vector>

namespace flexai::partition {
namespace {

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

template <typename T>
bool ParseInt(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string EncodeAssignment(const PodAssignment& a) {
  std::string out = "node=" + a.node + ";cpu=" + std::to_string(a.host.cpu_milli) +
                    ";mem=" + std::to_string(a.host.memory_mib);
  for (const auto& c : a.containers) {
    out += "|" + c.container + "=";
    for (size_t g = 0; g < c.grants.size(); ++g) {
      const auto& grant = c.grants[g];
      if (g) out += ",";
      out += grant.chip_uuid + ":" + std::to_string(grant.memory_mib) + ":" +
             std::to_string(grant.cores) + (grant.exclusive ? ":x" : "");
    }
  }
  return out;
}

Result<PodAssignment> DecodeAssignment(const std::string& text, const std::string& pod_uid) {
  auto fail = [&](const std::string& why) {
    return Error{"malformed assignment \"" + text + "\": " + why};
  };
  std::vector<std::string_view> sections = Split(text, '|');
  PodAssignment a;
  a.pod_uid = pod_uid;
  bool have_node = false;
  for (std::string_view field : Split(sections[0], ';')) {
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return fail("header field without '='");
    std::string_view key = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (key == "node") {
      if (value.empty()) return fail("empty node name");
      a.node = std::string(value);
      have_node = true;
    } else if (key == "cpu") {
      if (!ParseInt(value, a.host.cpu_milli)) return fail("cpu is not an integer");
    } else if (key == "mem") {
      if (!ParseInt(value, a.host.memory_mib)) return fail("mem is not an integer");
    } else {
      return fail("unknown header field '" + std::string(key) + "'");
    }
  }
  if (!have_node) return fail("no node");
  for (size_t s = 1; s < sections.size(); ++s) {
    size_t eq = sections[s].find('=');
    if (eq == std::string_view::npos || eq == 0) return fail("container section without name");
    ContainerAssignment ca;
    ca.container = std::string(sections[s].substr(0, eq));
    std::string_view grants = sections[s].substr(eq + 1);
    if (grants.empty()) return fail("container " + ca.container + " has no chips");
    for (std::string_view g : Split(grants, ',')) {
      std::vector<std::string_view> parts = Split(g, ':');
      if (parts.size() < 3 || parts.size() > 4 || parts[0].empty()) {
        return fail("grant '" + std::string(g) + "' is not uuid:MiB:cores[:x]");
      }
      ChipGrant grant;
      grant.chip_index = -1;
      grant.chip_uuid = std::string(parts[0]);
      if (!ParseInt(parts[1], grant.memory_mib) || grant.memory_mib < 0) {
        return fail("bad memory in grant '" + std::string(g) + "'");
      }
      if (!ParseInt(parts[2], grant.cores) || grant.cores < 0 || grant.cores > kCoresPerChip) {
        return fail("bad cores in grant '" + std::string(g) + "'");
      }
      if (parts.size() == 4) {
        if (parts[3] != "x") return fail("unknown flag in grant '" + std::string(g) + "'");
        grant.exclusive = true;
      }
      ca.grants.push_back(std::move(grant));
    }
    a.containers.push_back(std::move(ca));
  }
  return a;
}

}  // namespace flexai::partition
