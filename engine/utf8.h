// Captured output is bytes; the audit log is JSON, which must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace runbook {

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// `text` as valid UTF-8: each maximal ill-formed subsequence replaced by one U+FFFD (the
/// Unicode standard's recommended practice, section 3.9), exactly as the hash chain's
/// canonical JSON replaces it (nlohmann's error_handler_t::replace). So a value hashes the
/// same before and after a store that refuses invalid UTF-8 (PostgreSQL) has kept it.
std::string ValidUtf8(std::string_view text);

}  // namespace runbook
