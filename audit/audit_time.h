// Timestamps as the audit log stores them: RFC 3339 in UTC with milliseconds, e.g.
// `2026-11-23T15:04:05.123Z`. Fixed width, so text order is time order.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace runbook {

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds truncated toward the past).
std::string FormatAuditTime(std::chrono::system_clock::time_point t);

/// FormatAuditTime of the system clock's now.
std::string AuditTimeNow();

/// Parses an RFC 3339 UTC time as FormatAuditTime writes it; also accepts no fraction or any
/// number of fractional digits (rounded down to milliseconds). Other offsets than `Z` are an
/// error, and so are years before 1970 and after 2261 (which the clock cannot hold, or whose
/// differences it cannot).
Result<std::chrono::system_clock::time_point> ParseAuditTime(std::string_view text);

/// Formats a duration in milliseconds for people: `850ms`, `12.345s`, `3m07s`, `1h02m`.
std::string FormatDurationMs(long long ms);

}  // namespace runbook
