#include "audit/audit_time.h"

#include <cstdio>
#include <ctime>

namespace runbook {

namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian), after H. Hinnant's algorithm.
long long DaysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool ReadDigits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

}  // namespace

std::string FormatAuditTime(std::chrono::system_clock::time_point t) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  long long ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  long long secs = ms / 1000;
  long long frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // sized for any int fields, to keep -Wformat-truncation quiet
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::string AuditTimeNow() { return FormatAuditTime(std::chrono::system_clock::now()); }

Result<std::chrono::system_clock::time_point> ParseAuditTime(std::string_view text) {
  auto bad = [&] {
    return Result<std::chrono::system_clock::time_point>::Error(
        "invalid timestamp '" + std::string(text) +
        "': want RFC 3339 UTC like 2026-11-23T15:04:05.123Z");
  };
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !ReadDigits(text, 0, 4, &year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' || !ReadDigits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, &minute) || text[16] != ':' || !ReadDigits(text, 17, 2, &second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  // The clock counts nanoseconds since 1970 in 64 bits and ends in April 2262: within these
  // years every time is a time point, and so is the difference of any two (a run's duration,
  // an event's offset).
  if (year < 1970 || year > 2261) {
    return Result<std::chrono::system_clock::time_point>::Error(
        "invalid timestamp '" + std::string(text) + "': the year must be 1970 to 2261");
  }
  size_t pos = 19;
  long long ms = 0;
  if (text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 3; ++i) ms *= 10;
  }
  if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) return bad();
  long long days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  long long total_ms = ((days * 24 + hour) * 60 + minute) * 60 * 1000LL + second * 1000LL + ms;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(total_ms)));
}

std::string FormatDurationMs(long long ms) {
  char buf[48];
  const char* sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%s%lldms", sign, ms);
  } else if (ms < 60'000LL) {
    std::snprintf(buf, sizeof buf, "%s%lld.%03llds", sign, ms / 1000, ms % 1000);
  } else if (ms < 3'600'000LL) {
    std::snprintf(buf, sizeof buf, "%s%lldm%02llds", sign, ms / 60000, (ms / 1000) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%s%lldh%02lldm", sign, ms / 3600000, (ms / 60000) % 60);
  }
  return buf;
}

}  // namespace runbook
