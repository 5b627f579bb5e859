#include "steps/ssh_address.h"

namespace runbook {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<SshAddress> ParseSshAddress(std::string_view spec, int default_port) {
  SshAddress out;
  out.spec = std::string(spec);
  out.port = default_port;
  auto error = [&](const std::string& why) {
    return Result<SshAddress>::Error("host '" + out.spec + "': " + why);
  };
  bool has_port = false;
  std::string_view port;
  if (!spec.empty() && spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == std::string_view::npos) return error("no closing ']'");
    out.host = std::string(spec.substr(1, close - 1));
    std::string_view rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return error("expected ':port' after ']'");
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    size_t colon = spec.find(':');
    if (colon != std::string_view::npos && spec.find(':', colon + 1) == std::string_view::npos) {
      out.host = std::string(spec.substr(0, colon));
      has_port = true;
      port = spec.substr(colon + 1);
    } else {
      out.host = std::string(spec);  // a name, or a bare IPv6 address
    }
  }
  if (out.host.empty()) return error("no host name");
  if (has_port) {
    int value = AllDigits(port) ? std::stoi(std::string(port)) : 0;
    if (value < 1 || value > 65535) {
      return error("port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    out.port = value;
  }
  return out;
}

}  // namespace runbook
