#include "audit/hash_chain.h"

#include <set>
#include <vector>


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

}  // namespace runbook
