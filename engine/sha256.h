// SHA-256 as lower-case hex: the one digest of the project (plan hashes, bound files, the
// audit hash chain, journal records). OpenSSL EVP.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace runbook {

/// sha256 of `data` as 64 lower-case hex digits. Returns "" only if OpenSSL fails, which a
/// comparison against a stored hash then reports as a mismatch.
std::string Sha256Hex(std::string_view data);

/// sha256 of a file's content, read in pieces (a bound file may be large).
Result<std::string> FileSha256(const std::filesystem::path& path);

}  // namespace runbook
