#include "audit/canonical_json.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

namespace runbook {

namespace {

constexpr int kMaxDepth = 64;
constexpr int kMaxIntegerDigits = 18;  // always within int64 and uint64: parsed as an integer

// The bytes a canonical string holds as they are: printable ASCII (and DEL) but '"' and '\\'.
constexpr std::array<bool, 256> kPlainBytes = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

bool IsPlain(char c) { return kPlainBytes[static_cast<unsigned char>(c)]; }

// Whether all eight bytes of `word` are plain, tested at once (the SWAR tests of "Bit Twiddling
// Hacks": each says whether some byte is below n, or zero, exactly, though not which).
bool AllPlain(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const auto has_less = [&](uint64_t x, uint64_t n) { return ((x - kOnes * n) & ~x & kHigh) != 0; };
  const auto has_zero = [&](uint64_t x) { return has_less(x, 1); };
  return (word & kHigh) == 0 && !has_less(word, 0x20) && !has_zero(word ^ (kOnes * '"')) &&
         !has_zero(word ^ (kOnes * '\\'));
}

// Where the run of plain bytes that starts at `i` ends: eight at a time, then one by one.
size_t SkipPlain(std::string_view text, size_t i) {
  for (uint64_t word; i + sizeof word <= text.size(); i += sizeof word) {
    std::memcpy(&word, text.data() + i, sizeof word);
    if (!AllPlain(word)) break;
  }
  while (i < text.size() && IsPlain(text[i])) ++i;
  return i;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
int HexValue(char c) { return IsDigit(c) ? c - '0' : c - 'a' + 10; }

// Whether `a` sorts strictly before `b` by bytes, as std::string's operator< does; inline, for
// the short keys of a detail.
bool Before(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

/// Recursive descent over one JSON text that succeeds only on the canonical forms of
/// canonical_json.h. Each method starts at the current position and moves past what it read.
class CanonicalScanner {
 public:
  explicit CanonicalScanner(std::string_view text) : t_(text) {}

  bool Scan() { return Value(0) && i_ == t_.size(); }

 private:
  bool Value(int depth) {
    if (i_ >= t_.size()) return false;
    switch (t_[i_]) {
      case '{':
        return depth < kMaxDepth && Object(depth + 1);
      case '[':
        return depth < kMaxDepth && Array(depth + 1);
      case '"':
        return String(/*key=*/nullptr);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Integer();
    }
  }

  bool Object(int depth) {
    ++i_;  // '{'
    if (Take('}')) return true;
    std::string_view previous;
    for (bool first = true;; first = false) {
      std::string_view key;
      if (!String(&key)) return false;
      // Strictly increasing: the order of the parsed object's std::map, and no key twice.
      if (!first && !Before(previous, key)) return false;
      previous = key;
      if (!Take(':') || !Value(depth)) return false;
      if (Take('}')) return true;
      if (!Take(',')) return false;
    }
  }

  bool Array(int depth) {
    ++i_;  // '['
    if (Take(']')) return true;
    for (;;) {
      if (!Value(depth)) return false;
      if (Take(']')) return true;
      if (!Take(',')) return false;
    }
  }

  // A string; when `key` is given, one without escapes (its bytes are its value, and compare
  // as the parsed keys do), returned there without its quotes.
  bool String(std::string_view* key) {
    if (!Take('"')) return false;
    const size_t start = i_;
    for (;;) {
      i_ = SkipPlain(t_, i_);
      if (i_ >= t_.size()) return false;
      const auto c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        if (key) *key = t_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c < 0x20) return false;  // a raw control character: not JSON
      if (c == '\\') {
        if (key || !Escape()) return false;
      } else if (!Utf8Sequence()) {
        return false;
      }
    }
  }

  // One escape, as CanonicalJson writes it: the short forms, and \u00XX in lower-case hex only
  // for control characters that have no short form.
  bool Escape() {
    if (i_ + 1 >= t_.size()) return false;
    switch (t_[i_ + 1]) {
      case '"':
      case '\\':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        i_ += 2;
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    if (i_ + 6 > t_.size() || t_[i_ + 2] != '0' || t_[i_ + 3] != '0') return false;
    const char high = t_[i_ + 4], low = t_[i_ + 5];
    if ((high != '0' && high != '1') || !IsLowerHex(low)) return false;
    const int code = HexValue(high) * 16 + HexValue(low);
    if (code == 0x08 || code == 0x09 || code == 0x0a || code == 0x0c || code == 0x0d)
      return false;  // has a short form
    i_ += 6;
    return true;
  }

  // One multi-byte UTF-8 sequence (RFC 3629), starting at a byte >= 0x80.
  bool Utf8Sequence() {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(t_[i_ + k]); };
    const unsigned char lead = byte(0);
    size_t length = 0;
    unsigned char min = 0x80, max = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) min = 0xA0;  // no overlong forms
      if (lead == 0xED) max = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) min = 0x90;  // no overlong forms
      if (lead == 0xF4) max = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (i_ + length > t_.size()) return false;
    if (byte(1) < min || byte(1) > max) return false;
    for (size_t k = 2; k < length; ++k)
      if (byte(k) < 0x80 || byte(k) > 0xBF) return false;
    i_ += length;
    return true;
  }

  // An integer without a leading zero, short enough to be parsed as one; -0 is written "0".
  bool Integer() {
    const bool negative = Take('-');
    const size_t start = i_;
    while (i_ < t_.size() && IsDigit(t_[i_])) ++i_;
    const size_t digits = i_ - start;
    if (digits == 0 || digits > kMaxIntegerDigits) return false;
    if (t_[start] == '0' && (digits > 1 || negative)) return false;
    // A fraction or an exponent makes it a float, whose canonical form is not checked here.
    return i_ == t_.size() || (t_[i_] != '.' && t_[i_] != 'e' && t_[i_] != 'E');
  }

  bool Literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool Take(char c) {
    if (i_ >= t_.size() || t_[i_] != c) return false;
    ++i_;
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

bool IsCanonicalJson(std::string_view text) { return CanonicalScanner(text).Scan(); }

bool IsPlainText(std::string_view text) { return SkipPlain(text, 0) == text.size(); }

void AppendCanonicalString(std::string_view text, std::string* out) {
  if (!IsPlainText(text)) {
    // Escapes or bytes beyond ASCII: the serializer itself decides (and replaces invalid
    // UTF-8), so that the text is CanonicalJson's to the byte.
    *out += nlohmann::json(std::string(text))
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out->push_back('"');
  out->append(text);
  out->push_back('"');
}

}  // namespace runbook
