// SHA-256 as lower-case hex: the one digest of the project (plan hashes, bound files, the
// audit hash chain, journal records). Nettle's sha256 (SHA-NI where the CPU has it): OpenSSL's
// would cost every command some 2 MB of memory to set up its provider (docs/performance.md).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace runbook {

/// sha256 of `data` as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view data);

/// SHA-256 of many inputs one after another (a hash chain's events), compared without
/// building the hex string. Not thread-safe: one per thread.
class Sha256Hasher {
 public:
  /// Whether Sha256Hex(data) is `expected_hex`.
  bool Matches(std::string_view data, std::string_view expected_hex);
};

/// sha256 of a file's content, read in pieces (a bound file may be large).
Result<std::string> FileSha256(const std::filesystem::path& path);

}  // namespace runbook
