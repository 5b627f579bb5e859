#include "steps/json_path.h"

#include <cctype>
#include <limits>
#include <utility>

namespace runbook {
namespace {

bool IsNameChar(char c) {
  switch (c) {
    case '.':
    case '[':
    case ']':
    case '\'':
    case '"':
      return false;
    default:
      return !std::isspace(static_cast<unsigned char>(c));
  }
}

// Writes the segments [0, count) back as a path, for messages about a prefix of the path.
std::string PrefixText(const std::vector<JsonPath::Segment>& segments, size_t count) {
  std::string out = "$";
  for (size_t i = 0; i < count; ++i) {
    const JsonPath::Segment& s = segments[i];
    if (s.is_index) {
      out += "[" + std::to_string(s.index) + "]";
      continue;
    }
    bool plain = !s.name.empty();
    for (char c : s.name) plain = plain && IsNameChar(c);
    if (plain) {
      out += "." + s.name;
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

const char* TypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "a number";
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "nothing";
  }
  return "a value";
}

}  // namespace

Result<JsonPath> JsonPath::Parse(std::string_view text) {
  JsonPath path;
  path.text_ = std::string(text);
  auto fail = [&](const std::string& what, size_t at) {
    return Result<JsonPath>::Error("bad JSON path '" + std::string(text) + "': " + what +
                                   " (at offset " + std::to_string(at) + ")");
  };
  if (text.empty() || text[0] != '$') return fail("a path starts with '$'", 0);
  size_t i = 1;
  while (i < text.size()) {
    char c = text[i];
    if (c == '.') {
      size_t start = ++i;
      while (i < text.size() && IsNameChar(text[i])) ++i;
      if (i == start) {
        return fail(i < text.size() && text[i] == '.' ? "'..' (recursive descent) is not supported"
                                                      : "expected a member name after '.'",
                    start);
      }
      Segment s;
      s.name = std::string(text.substr(start, i - start));
      if (s.name == "*") return fail("wildcards are not supported", start);
      path.segments_.push_back(std::move(s));
    } else if (c == '[') {
      size_t open = i++;
      if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
        char quote = text[i++];
        Segment s;
        bool closed = false;
        while (i < text.size()) {
          char d = text[i++];
          if (d == '\\' && i < text.size()) {
            s.name += text[i++];
          } else if (d == quote) {
            closed = true;
            break;
          } else {
            s.name += d;
          }
        }
        if (!closed) return fail("unterminated quoted name", open);
        if (i >= text.size() || text[i] != ']') return fail("expected ']' after the name", i);
        ++i;
        path.segments_.push_back(std::move(s));
      } else if (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        size_t start = i;
        size_t index = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
          size_t digit = static_cast<size_t>(text[i] - '0');
          if (index > (std::numeric_limits<size_t>::max() - digit) / 10) {
            return fail("index too large", start);
          }
          index = index * 10 + digit;
          ++i;
        }
        if (i >= text.size() || text[i] != ']') return fail("expected ']' after the index", i);
        ++i;
        Segment s;
        s.is_index = true;
        s.index = index;
        path.segments_.push_back(std::move(s));
      } else if (i < text.size() && text[i] == '-') {
        return fail("negative indices are not supported", i);
      } else if (i < text.size() && text[i] == '*') {
        return fail("wildcards are not supported", i);
      } else {
        return fail("expected a number or a quoted name after '['", i);
      }
    } else {
      return fail(std::string("unexpected '") + c + "'; expected '.' or '['", i);
    }
  }
  return path;
}

const nlohmann::json* JsonPath::Find(const nlohmann::json& doc, std::string* why) const {
  const nlohmann::json* at = &doc;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    if (s.is_index) {
      if (!at->is_array()) {
        if (why) *why = PrefixText(segments_, i) + " is " + TypeName(*at) + ", not an array";
        return nullptr;
      }
      if (s.index >= at->size()) {
        if (why) {
          *why = PrefixText(segments_, i) + " has " + std::to_string(at->size()) +
                 (at->size() == 1 ? " element" : " elements");
        }
        return nullptr;
      }
      at = &(*at)[s.index];
    } else {
      if (!at->is_object()) {
        if (why) *why = PrefixText(segments_, i) + " is " + TypeName(*at) + ", not an object";
        return nullptr;
      }
      auto it = at->find(s.name);
      if (it == at->end()) {
        if (why) *why = PrefixText(segments_, i) + " has no member '" + s.name + "'";
        return nullptr;
      }
      at = &*it;
    }
  }
  return at;
}

bool JsonScalarMatches(const nlohmann::json& actual, const nlohmann::json& expected) {
  if (expected.is_string() && !actual.is_string() && !actual.is_structured()) {
    nlohmann::json parsed = nlohmann::json::parse(expected.get_ref<const std::string&>(), nullptr,
                                                  /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed.is_structured() || parsed.is_string()) return false;
    return parsed == actual;
  }
  return actual == expected;
}

std::string JsonValueText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace runbook
