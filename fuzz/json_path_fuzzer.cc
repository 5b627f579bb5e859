// Feeds: the input's first line as a JSON path (`$.items[0]['a.b']`, the http action's json
// checks and outputs) to JsonPath::Parse, and the rest as a JSON document, parsed as a
// response body is, which each path that parses looks up (JsonPath::Find); the value found is
// matched and shown as a check and an output do (JsonScalarMatches, JsonValueText).
//
// Checks, beyond "does not crash, hang or leak": a path that parses is kept as written and
// reads back as the same segments when written in the bracket form; an error says which path
// was bad; Find returns the value the segments lead to, or says why there is none; a value
// matches itself, and a (finite) number, boolean or null also matches its own text (what a
// YAML scalar becomes).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "steps/json_path.h"

namespace runbook {
namespace {

// The path in the bracket form only: $['name'][3].
std::string BracketText(const JsonPath& path) {
  std::string out = "$";
  for (const JsonPath::Segment& s : path.segments()) {
    if (s.is_index) {
      out += "[" + std::to_string(s.index) + "]";
      continue;
    }
    out += "['";
    for (char c : s.name) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += "']";
  }
  return out;
}

bool SameSegments(const JsonPath& a, const JsonPath& b) {
  if (a.segments().size() != b.segments().size()) return false;
  for (size_t i = 0; i < a.segments().size(); ++i) {
    const JsonPath::Segment& x = a.segments()[i];
    const JsonPath::Segment& y = b.segments()[i];
    if (x.is_index != y.is_index) return false;
    if (x.is_index ? x.index != y.index : x.name != y.name) return false;
  }
  return true;
}

// Where the segments lead in `doc`, walked without JsonPath::Find.
const nlohmann::json* Walk(const JsonPath& path, const nlohmann::json& doc) {
  const nlohmann::json* at = &doc;
  for (const JsonPath::Segment& s : path.segments()) {
    if (s.is_index) {
      if (!at->is_array() || s.index >= at->size()) return nullptr;
      at = &at->at(s.index);
    } else {
      if (!at->is_object() || !at->contains(s.name)) return nullptr;
      at = &at->at(s.name);
    }
  }
  return at;
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view text = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? "" : input.substr(nl + 1);

  Result<JsonPath> path = JsonPath::Parse(text);
  if (!path.ok()) {
    FUZZ_CHECK(path.message().rfind("bad JSON path '", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(path->text() == text);
  Result<JsonPath> again = JsonPath::Parse(BracketText(*path));
  FUZZ_CHECK(again.ok() && SameSegments(*path, *again));

  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) doc = std::string(body);
  std::string why;
  const nlohmann::json* found = path->Find(doc, &why);
  FUZZ_CHECK(found == Walk(*path, doc));
  if (found == nullptr) {
    FUZZ_CHECK(!why.empty());
    return 0;
  }
  FUZZ_CHECK(JsonScalarMatches(*found, *found));
  const std::string shown = JsonValueText(*found);
  // (1e999 reads as infinity, which JSON cannot write: JsonValueText shows it as null.)
  const bool finite = !found->is_number_float() || std::isfinite(found->get<double>());
  if (!found->is_structured() && !found->is_string() && finite) {
    FUZZ_CHECK(JsonScalarMatches(*found, nlohmann::json(shown)));
  }
  return 0;
}
