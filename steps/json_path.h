// A small JSON path syntax for the http action's `json:` checks and `outputs:` sources.
//
//   $                 the whole document
//   .name             a member; name is any run of characters but . [ ] ' " and whitespace
//   ['any name']      a member whose name needs quoting ("a.b", "with space"); "..." works
//                     too; inside the quotes \' \" and \\ stand for the character itself
//   [N]               the N-th element of an array, counted from 0
//
// Examples: `$.status`, `$.checks.db`, `$.items[0].state`, `$['app.kubernetes.io/name']`.
// No wildcards, filters, slices or negative indices: a check names exactly one value.
// The syntax is documented for users in docs/http.md.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace runbook {

/// A parsed JSON path. Plain data: copyable and safe to share between threads.
class JsonPath {
 public:
  /// One step down the document: a member name or an array index.
  struct Segment {
    bool is_index = false;
    std::string name;  // when !is_index
    size_t index = 0;  // when is_index
  };

  /// Parses `text`. Errors say what is wrong and where: "bad JSON path '$.a[': expected a
  /// number or a quoted name after '[' (at offset 4)".
  static Result<JsonPath> Parse(std::string_view text);

  /// The value at this path in `doc`, or nullptr when there is none. When `why` is given and
  /// the path does not exist, it is set to the first step that failed, such as
  /// "$.checks has no member 'db'" or "$.items has 2 elements".
  const nlohmann::json* Find(const nlohmann::json& doc, std::string* why = nullptr) const;

  /// The path as written.
  const std::string& text() const { return text_; }
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::string text_;
  std::vector<Segment> segments_;
};

/// Whether `actual` equals `expected`: strings, numbers (compared by value, so 1 equals 1.0),
/// booleans and null; objects and arrays by deep equality. An expected string also matches a
/// number, boolean or null whose JSON text it is ("3" matches 3, "true" matches true), since a
/// YAML scalar may reach the check as a string whether or not it was quoted. The reverse does
/// not hold: an expected number never matches a string.
bool JsonScalarMatches(const nlohmann::json& actual, const nlohmann::json& expected);

/// A value for humans and for step outputs: a string as it is, anything else as compact JSON.
std::string JsonValueText(const nlohmann::json& value);

}  // namespace runbook
