// The http action's `body_regex` search, made safe to run inside a deploy tool.
//
// std::regex (libstdc++) recurses once per character of the subject and backtracks without
// limit: a pattern like `(a|b)*c` overflows an 8 MiB stack on a 16 KiB body, and `.*c` takes
// seconds on 8 KiB that do not match. So the search runs on its own thread with a large stack,
// over at most kBodyRegexLimit bytes, and the caller waits no longer than the step's remaining
// time and not past an interruption. A search that is still running then is abandoned: it
// owns copies of its inputs and ends on its own.
#pragma once

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>

#include "engine/model.h"

namespace runbook {

/// How many bytes from the start of the body `body_regex` looks at.
inline constexpr size_t kBodyRegexLimit = size_t{64} << 10;

enum class RegexSearchOutcome { kMatch, kNoMatch, kTimedOut, kCancelled, kError };

/// Searches the first kBodyRegexLimit bytes of `text` for `re`. Waits at most `budget`, and
/// returns kCancelled as soon as `cancel_fd` (when >= 0) is readable. On kError `error` says
/// why (no thread could be started, or std::regex gave up). Thread-safe.
RegexSearchOutcome SearchBody(const std::regex& re, std::string_view text, Duration budget,
                              int cancel_fd, std::string* error);

}  // namespace runbook
