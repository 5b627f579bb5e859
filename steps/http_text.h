// Text for the http action's messages and audit records. A response body is arbitrary bytes,
// but audit details are JSON, which must be valid UTF-8: everything taken from a body goes
// through Utf8Prefix first.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/model.h"

namespace runbook::http {

/// At most `max_bytes` of `text` as valid UTF-8, cut at a character boundary; each byte that
/// is not part of a valid sequence becomes U+FFFD. `cut` (when given) tells whether anything
/// was left out.
std::string Utf8Prefix(std::string_view text, size_t max_bytes, bool* cut = nullptr);

/// A short excerpt for an error message: the first bytes of `text` (already redacted), on one
/// line (\n, \r, \t escaped), in single quotes, with "…" when cut: 'status: degraded\n…'.
std::string QuotedExcerpt(std::string_view text, size_t max_bytes = 80);

/// "300ms", "2s", "1.5s".
std::string ShortDuration(Duration d);

}  // namespace runbook::http
