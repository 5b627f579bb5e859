// Durations as runbooks write them: one or more <number><unit> parts, unit ms, s, m or h
// ("500ms", "30s", "1h30m", "1.5s"). No sign, no spaces, no bare numbers: "10" could mean
// seconds or milliseconds, so it is refused rather than guessed.
#include <cstdint>
#include <string>

#include "engine/loader.h"

namespace runbook {

namespace {

constexpr int64_t kMaxMillis = int64_t{1000} * 60 * 60 * 24 * 365 * 100;  // a century

}  // namespace

bool ParseDuration(const std::string& text, Duration* out) {
  if (text.empty()) return false;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    // The number: digits, optionally a fraction.
    int64_t whole = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++digits > 12) return false;
      whole = whole * 10 + (text[i++] - '0');
    }
    int64_t frac = 0;
    int64_t frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      size_t frac_digits = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (++frac_digits > 6) return false;
        frac = frac * 10 + (text[i++] - '0');
        frac_scale *= 10;
      }
      if (frac_digits == 0) return false;
    }
    if (digits == 0) return false;
    // The unit.
    int64_t unit = 0;
    if (text.compare(i, 2, "ms") == 0) {
      unit = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unit = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit = 60 * 60 * 1000;
      ++i;
    } else {
      return false;
    }
    total += whole * unit + (frac * unit) / frac_scale;
    if (total > kMaxMillis) return false;
  }
  *out = Duration(total);
  return true;
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms < 0) return "-" + FormatDuration(Duration(-ms));
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  int64_t hours = ms / 3600000;
  ms %= 3600000;
  int64_t minutes = ms / 60000;
  ms %= 60000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (minutes > 0) out += std::to_string(minutes) + "m";
  if (ms > 0) {
    out += std::to_string(ms / 1000);
    if (int64_t frac = ms % 1000; frac != 0) {
      std::string digits = std::to_string(frac);
      digits.insert(0, 3 - digits.size(), '0');
      while (digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    out += "s";
  }
  return out;
}

}  // namespace runbook
