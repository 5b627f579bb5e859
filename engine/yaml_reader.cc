#include "engine/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "engine/loader.h"

namespace runbook {

const YamlField* YamlFields::Find(std::string_view key) const {
  for (const YamlField& f : fields_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

bool YamlFields::Misspelt(std::string_view key) const {
  for (const std::string& s : suggested_) {
    if (s == key) return true;
  }
  return false;
}

int EditDistance(std::string_view a, std::string_view b, int limit) {
  int la = static_cast<int>(a.size());
  int lb = static_cast<int>(b.size());
  if (std::abs(la - lb) > limit) return limit + 1;
  std::vector<int> prev(lb + 1), cur(lb + 1);
  for (int j = 0; j <= lb; ++j) prev[j] = j;
  for (int i = 1; i <= la; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= lb; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return prev[lb];
}

std::string ClosestKey(std::string_view key, std::span<const std::string_view> allowed) {
  // Two edits for real words, one for very short keys (else "x" would suggest "id").
  int limit = key.size() <= 3 ? 1 : 2;
  std::string best;
  int best_distance = limit + 1;
  for (std::string_view candidate : allowed) {
    int d = EditDistance(key, candidate, limit);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

void YamlReader::Error(SourceLoc loc, std::string message) {
  ++errors_;
  diags_->push_back({Diagnostic::Severity::kError, file_, loc.line, loc.col, std::move(message)});
}

void YamlReader::Warning(SourceLoc loc, std::string message) {
  diags_->push_back({Diagnostic::Severity::kWarning, file_, loc.line, loc.col, std::move(message)});
}

SourceLoc YamlReader::ValueLoc(const YamlField& field) {
  if (field.value.IsNull()) return LocOf(field.key_node);
  SourceLoc loc = LocOf(field.value);
  return loc.line > 0 ? loc : LocOf(field.key_node);
}

std::string YamlReader::Describe(const YamlNode& node) {
  switch (node.Type()) {
    case YamlKind::kUndefined:
    case YamlKind::kNull:
      return "nothing";
    case YamlKind::kSequence:
      return "a list";
    case YamlKind::kMap:
      return "a mapping";
    case YamlKind::kScalar: {
      std::string text(node.Scalar());
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      return "'" + text + "'";
    }
  }
  return "?";
}

void YamlReader::TypeError(const YamlField& field, std::string_view expected) {
  std::string message =
      field.key + ": expected " + std::string(expected) + ", got " + Describe(field.value);
  if (field.value.IsScalar() && field.value.Scalar().find("{{") != std::string::npos) {
    // SPEC §5: a field that does not accept a placeholder says so.
    message += "; " + field.key +
               " does not accept placeholders (only text fields do): write the value itself";
  }
  Error(ValueLoc(field), std::move(message));
}

void YamlReader::ErrorIn(const std::string& file, SourceLoc loc, std::string message) {
  ++errors_;
  diags_->push_back({Diagnostic::Severity::kError, file, loc.line, loc.col, std::move(message)});
}

bool YamlReader::ReadMap(const YamlNode& node, SourceLoc loc, std::string_view what,
                         std::span<const std::string_view> allowed, YamlFields* out,
                         bool allow_extensions) {
  out->fields_.clear();
  out->suggested_.clear();
  if (!node.IsMap()) {
    Error(loc, std::string(what) + ": expected a mapping, got " + Describe(node));
    return false;
  }
  out->fields_.reserve(node.size());
  std::vector<YamlNode> merges;  // `<<: *anchor` sources, applied after the explicit keys
  auto add = [&](const YamlNode& key, const YamlNode& value, bool merged) {
    if (!key.IsScalar()) {
      Error(LocOf(key), "keys in " + std::string(what) + " must be names, got " + Describe(key));
      return;
    }
    const std::string name(key.Scalar());
    if (!merged && name == "<<" && key.Tag() == "?") {
      merges.push_back(value);
      return;
    }
    if (allow_extensions && name.rfind("x-", 0) == 0) return;
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string message = "unknown key '" + name + "' in " + std::string(what);
      std::string close = ClosestKey(name, allowed);
      if (!close.empty()) {
        message += "; did you mean '" + close + "'?";
        out->suggested_.push_back(close);
      }
      Error(LocOf(key), std::move(message));
      return;
    }
    if (out->Find(name) != nullptr) {
      // A merged key is overridden by an explicit one; two explicit ones are a mistake.
      if (!merged) Error(LocOf(key), "duplicate key '" + name + "' in " + std::string(what));
      return;
    }
    out->fields_.push_back({name, key, value});
  };
  for (const YamlPair& pair : node.pairs()) add(pair.first, pair.second, false);
  for (const YamlNode& source : merges) {
    std::vector<YamlNode> maps;
    if (source.IsSequence()) {
      for (const YamlNode& item : source.items()) maps.push_back(item);
    } else {
      maps.push_back(source);
    }
    for (const YamlNode& map : maps) {
      if (!map.IsMap()) {
        Error(LocOf(map), "'<<' merges mappings (<<: *anchor), got " + Describe(map));
        continue;
      }
      for (const YamlPair& pair : map.pairs()) add(pair.first, pair.second, true);
    }
  }
  return true;
}

bool YamlReader::GetString(const YamlField& field, std::string* out) {
  if (!field.value.IsScalar()) {
    TypeError(field, "a string");
    return false;
  }
  *out = field.value.Scalar();
  return true;
}

bool YamlReader::GetBool(const YamlField& field, bool* out) {
  if (field.value.IsScalar()) {
    std::string v(field.value.Scalar());
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    if (v == "true" || v == "yes" || v == "on") {
      *out = true;
      return true;
    }
    if (v == "false" || v == "no" || v == "off") {
      *out = false;
      return true;
    }
  }
  TypeError(field, "true or false");
  return false;
}

bool YamlReader::GetInt(const YamlField& field, int min, int max, int* out) {
  if (field.value.IsScalar()) {
    const std::string v(field.value.Scalar());
    size_t i = (!v.empty() && v[0] == '-') ? 1 : 0;
    bool digits = i < v.size() && v.size() - i <= 9 &&
                  std::all_of(v.begin() + i, v.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      int value = std::stoi(v);
      if (value < min || value > max) {
        Error(ValueLoc(field), field.key + ": " + v + " is out of range (" + std::to_string(min) +
                                   " to " + std::to_string(max) + ")");
        return false;
      }
      *out = value;
      return true;
    }
  }
  TypeError(field, "a whole number");
  return false;
}

bool YamlReader::GetDuration(const YamlField& field, Duration* out) {
  if (field.value.IsScalar() && ParseDuration(std::string(field.value.Scalar()), out)) {
    return true;
  }
  if (field.value.IsScalar()) {
    Error(ValueLoc(field), field.key + ": invalid duration '" + std::string(field.value.Scalar()) +
                               "' (use 500ms, 30s, 5m or 2h)");
  } else {
    TypeError(field, "a duration such as 30s");
  }
  return false;
}

bool YamlReader::GetStringList(const YamlField& field, std::vector<std::string>* out) {
  if (!field.value.IsSequence()) {
    TypeError(field, "a list of strings");
    return false;
  }
  out->clear();
  bool ok = true;
  for (const YamlNode& item : field.value.items()) {
    if (!item.IsScalar()) {
      Error(LocOf(item).line > 0 ? LocOf(item) : ValueLoc(field),
            field.key + ": expected a string in the list, got " + Describe(item));
      ok = false;
      continue;
    }
    out->emplace_back(item.Scalar());
  }
  return ok;
}

bool YamlReader::GetStringMap(const YamlField& field, std::map<std::string, std::string>* out) {
  if (!field.value.IsMap()) {
    TypeError(field, "a mapping of names to strings");
    return false;
  }
  out->clear();
  bool ok = true;
  for (const auto& [key_node, value] : field.value.pairs()) {
    if (!key_node.IsScalar()) {
      Error(LocOf(key_node), field.key + ": keys must be names, got " + Describe(key_node));
      ok = false;
      continue;
    }
    const std::string key(key_node.Scalar());
    if (!value.IsScalar()) {
      YamlField inner{field.key + "." + key, key_node, value};
      TypeError(inner, "a string");
      ok = false;
      continue;
    }
    if (!out->emplace(key, value.Scalar()).second) {
      Error(LocOf(key_node), field.key + ": duplicate key '" + key + "'");
      ok = false;
    }
  }
  return ok;
}

}  // namespace runbook
