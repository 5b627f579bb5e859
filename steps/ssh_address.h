// Hosts as an ssh target writes them: "web1", "web2:2222", "[2001:db8::7]:2222", "::1".
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace runbook {

/// A host of an ssh target, split into name and port.
struct SshAddress {
  std::string spec;  // as written in the target: "web1", "web2:2222", "[::1]:2222"
  std::string host;  // "web2", "::1"
  int port = 22;
};

/// Parses "name", "name:port", "[v6addr]:port" or a bare IPv6 address; `default_port` applies
/// when no port is written.
Result<SshAddress> ParseSshAddress(std::string_view spec, int default_port);

}  // namespace runbook
