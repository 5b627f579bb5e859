#include "audit/hash_chain.h"

#include <charconv>
#include <cstring>
#include <set>
#include <vector>

#include "audit/canonical_json.h"

namespace runbook {

std::string CanonicalJson(const nlohmann::json& value) {
  // nlohmann::json keeps object keys in a std::map, so dump() already sorts them.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<nlohmann::json> ParseStoredJson(std::string_view text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

namespace {

/// A SAX handler that only tracks the keys of each open object.
class DuplicateKeyFinder : public nlohmann::json::json_sax_t {
 public:
  bool found = false;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) found = true;
    return !found;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception&) override {
    return false;
  }

 private:
  std::vector<std::set<std::string>> keys_;
};

}  // namespace

bool HasDuplicateKeys(std::string_view text) {
  DuplicateKeyFinder finder;
  nlohmann::json::sax_parse(text, &finder, nlohmann::json::input_format_t::json, false);
  return finder.found;
}

std::string CanonicalEvent(const StoredEvent& event) {
  nlohmann::json j = nlohmann::json::object();
  j["seq"] = event.seq;
  j["run_id"] = event.run_id;
  j["ts"] = event.ts;
  j["event"] = event.event;
  j["phase"] = event.phase;
  j["step"] = event.step;
  j["from"] = event.from;
  j["to"] = event.to;
  j["attempt"] = event.attempt;
  j["detail"] = event.detail;
  return CanonicalJson(j);
}

std::string ChainHash(std::string_view prev_hash, const StoredEvent& event) {
  std::string input(prev_hash);
  input += CanonicalEvent(event);
  return Sha256Hex(input);
}

namespace {

void AppendInteger(int64_t value, std::string* out) {
  char digits[24];
  const std::to_chars_result written = std::to_chars(digits, digits + sizeof digits, value);
  out->append(digits, written.ptr);
}

// Writes JSON text through a pointer into room reserved for it: the canonical event of a row
// whose strings need no escapes, without a capacity check per piece.
class RawWriter {
 public:
  explicit RawWriter(char* p) : p_(p) {}
  char* end() const { return p_; }
  RawWriter& Raw(std::string_view text) {
    std::memcpy(p_, text.data(), text.size());
    p_ += text.size();
    return *this;
  }
  RawWriter& String(std::string_view plain) {
    *p_++ = '"';
    Raw(plain);
    *p_++ = '"';
    return *this;
  }
  RawWriter& Integer(int64_t value) {
    p_ = std::to_chars(p_, p_ + kMaxDigits, value).ptr;
    return *this;
  }
  static constexpr size_t kMaxDigits = 20;  // -9223372036854775808

 private:
  char* p_;
};

}  // namespace

bool AppendCanonicalEvent(const EventRow& row, std::string* out) {
  using namespace std::string_view_literals;
  if (!IsCanonicalJson(row.detail)) return false;
  // CanonicalEvent's keys in their sorted order.
  const std::string_view strings[] = {row.event, row.from, row.phase, row.run_id,
                                      row.step,  row.to,   row.ts};
  size_t room = 128 + 2 * RawWriter::kMaxDigits + row.detail.size();  // keys and punctuation
  bool plain = true;
  for (const std::string_view s : strings) {
    room += s.size();
    plain = plain && IsPlainText(s);
  }
  if (plain) {  // the common case: everything is written as it is
    const size_t start = out->size();
    out->resize(start + room);
    RawWriter w(out->data() + start);
    w.Raw(R"({"attempt":)"sv).Integer(row.attempt);
    w.Raw(R"(,"detail":)"sv).Raw(row.detail);
    w.Raw(R"(,"event":)"sv).String(row.event);
    w.Raw(R"(,"from":)"sv).String(row.from);
    w.Raw(R"(,"phase":)"sv).String(row.phase);
    w.Raw(R"(,"run_id":)"sv).String(row.run_id);
    w.Raw(R"(,"seq":)"sv).Integer(row.seq);
    w.Raw(R"(,"step":)"sv).String(row.step);
    w.Raw(R"(,"to":)"sv).String(row.to);
    w.Raw(R"(,"ts":)"sv).String(row.ts).Raw("}"sv);
    out->resize(static_cast<size_t>(w.end() - out->data()));
    return true;
  }
  out->append(R"({"attempt":)"sv);
  AppendInteger(row.attempt, out);
  out->append(R"(,"detail":)"sv);
  out->append(row.detail);
  out->append(R"(,"event":)"sv);
  AppendCanonicalString(row.event, out);
  out->append(R"(,"from":)"sv);
  AppendCanonicalString(row.from, out);
  out->append(R"(,"phase":)"sv);
  AppendCanonicalString(row.phase, out);
  out->append(R"(,"run_id":)"sv);
  AppendCanonicalString(row.run_id, out);
  out->append(R"(,"seq":)"sv);
  AppendInteger(row.seq, out);
  out->append(R"(,"step":)"sv);
  AppendCanonicalString(row.step, out);
  out->append(R"(,"to":)"sv);
  AppendCanonicalString(row.to, out);
  out->append(R"(,"ts":)"sv);
  AppendCanonicalString(row.ts, out);
  out->push_back('}');
  return true;
}

}  // namespace runbook
