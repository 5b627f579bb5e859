// How the history commands (`runs`, `plans`, `plans prune`, `stats`) read a point in time or
// an age from the command line: `--since 7d`, `--since 2026-11-01`, `--older-than 12h`.
#pragma once

#include <chrono>
#include <string>

#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

/// An age: a runbook duration ("30m", "12h", "1h30m", engine/loader.h) or a whole number of
/// days or weeks ("7d", "2w"). kInvalid, naming `text`, otherwise.
Result<Duration> ParseAge(const std::string& text);

/// A point in time: an age meaning that long before `now` (ParseAge), a date ("2026-11-01",
/// midnight UTC) or an RFC 3339 UTC time ("2026-11-01T12:00:00Z"). kInvalid, naming `text`
/// and what would be right, otherwise.
Result<std::chrono::system_clock::time_point> ParseSince(
    const std::string& text, std::chrono::system_clock::time_point now);

}  // namespace runbook
