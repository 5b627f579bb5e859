// Captured output is bytes; the audit log is JSON, which must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace runbook {

/// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

}  // namespace runbook
