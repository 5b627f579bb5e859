#include "app/time_filter.h"

#include <cctype>

#include "audit/audit_time.h"
#include "engine/loader.h"

namespace runbook {

Result<Duration> ParseAge(const std::string& text) {
  // Days and weeks: history is looked at over spans runbook durations do not name.
  if (text.size() >= 2 && (text.back() == 'd' || text.back() == 'w')) {
    const std::string digits = text.substr(0, text.size() - 1);
    bool all_digits = digits.size() <= 6;
    for (char c : digits) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
    if (all_digits) {
      const long long days = std::stoll(digits) * (text.back() == 'w' ? 7 : 1);
      return Duration(std::chrono::hours(24 * days));
    }
  }
  Duration d{0};
  if (!ParseDuration(text, &d))
    return Status::Invalid("'" + text + "' is not an age; write e.g. 30m, 12h, 7d or 2w");
  return d;
}

Result<std::chrono::system_clock::time_point> ParseSince(
    const std::string& text, std::chrono::system_clock::time_point now) {
  // The clock counts nanoseconds in 64 bits: it ends in 2262, and so does what it can compare.
  if (text.size() >= 10 && text[4] == '-' && text.compare(0, 4, "2262") >= 0 &&
      std::isdigit(static_cast<unsigned char>(text[0])))
    return Status::Invalid("'" + text + "' is after 2261; write a UTC date before 2262");
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    auto day = ParseAuditTime(text + "T00:00:00Z");
    if (day.ok()) return day;
  } else if (text.find('T') != std::string::npos) {
    auto at = ParseAuditTime(text);
    if (at.ok()) return at;
  } else if (auto age = ParseAge(text); age.ok()) {
    // An age longer than the time since 1970 means everything recorded.
    const auto since_epoch = std::chrono::duration_cast<Duration>(now.time_since_epoch());
    if (*age >= since_epoch) return std::chrono::system_clock::time_point{};
    return now - *age;
  }
  return Status::Invalid("'" + text +
                         "' is neither an age (7d, 12h, 30m) nor a UTC date or time "
                         "(2026-11-01, 2026-11-01T12:00:00Z)");
}

}  // namespace runbook
