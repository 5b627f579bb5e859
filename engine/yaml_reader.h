// Reading YAML nodes (yaml_tree.h) into typed values while collecting located diagnostics.
// Every getter reports a wrong type or a bad value as an error at the offending node and
// returns false; nothing here throws, so the loader can go on and report every problem in one
// pass.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/model.h"
#include "engine/yaml_tree.h"

namespace runbook {

/// One `key: value` pair of a mapping.
struct YamlField {
  std::string key;
  YamlNode key_node;
  YamlNode value;
};

/// The fields of one mapping, in file order, once checked against the allowed keys.
class YamlFields {
 public:
  /// The field named `key`, or nullptr when absent.
  const YamlField* Find(std::string_view key) const;
  const std::vector<YamlField>& all() const { return fields_; }
  /// The "did you mean" keys suggested for unknown keys: a caller can skip a follow-on error
  /// ("no action") that the misspelling already explains.
  const std::vector<std::string>& suggested() const { return suggested_; }
  /// Whether an unknown key was reported as a misspelling of `key`: then "missing required
  /// key" would only repeat that error.
  bool Misspelt(std::string_view key) const;

 private:
  friend class YamlReader;
  std::vector<YamlField> fields_;
  std::vector<std::string> suggested_;
};

/// The position of `node` counted from 1, or {0, 0} when the node has none.
inline SourceLoc LocOf(const YamlNode& node) { return node.Loc(); }

/// Levenshtein distance of `a` and `b`, or `limit + 1` as soon as it exceeds `limit`.
int EditDistance(std::string_view a, std::string_view b, int limit);

/// The allowed key closest to `key` (edit distance at most 2; 1 for keys of up to three
/// characters), or "" when none is close.
std::string ClosestKey(std::string_view key, std::span<const std::string_view> allowed);

/// Reads nodes of one file, appending every problem to a diagnostics list it does not own.
class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics* diags) : file_(std::move(file)), diags_(diags) {}
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  void Error(SourceLoc loc, std::string message);
  void Warning(SourceLoc loc, std::string message);
  /// An error located in another file the runbook names (a kubectl manifest).
  void ErrorIn(const std::string& file, SourceLoc loc, std::string message);
  int error_count() const { return errors_; }

  /// Where a field's value is: its own mark, or the key's when the value is empty (yaml-cpp
  /// marks an empty value at the next token, which may be lines below).
  static SourceLoc ValueLoc(const YamlField& field);

  /// Reads a mapping. Reports a node that is not a mapping ("`what`: expected a mapping"),
  /// keys that are not strings, duplicate keys, and keys not in `allowed` ("unknown key 'shel'
  /// in step; did you mean 'shell'?"). Returns false only when `node` is not a mapping.
  /// YAML merge keys (`<<: *anchor`) are applied; explicit keys win over merged ones. With
  /// `allow_extensions`, keys starting with "x-" are skipped: a place to define anchors.
  bool ReadMap(const YamlNode& node, SourceLoc loc, std::string_view what,
               std::span<const std::string_view> allowed, YamlFields* out,
               bool allow_extensions = false);

  /// Scalars as text. A null value is an error (nothing written where a value is needed).
  bool GetString(const YamlField& field, std::string* out);
  /// true/false (also yes/no, on/off).
  bool GetBool(const YamlField& field, bool* out);
  /// A whole number in [min, max].
  bool GetInt(const YamlField& field, int min, int max, int* out);
  /// A duration ("30s"); see ParseDuration.
  bool GetDuration(const YamlField& field, Duration* out);
  /// A list of strings.
  bool GetStringList(const YamlField& field, std::vector<std::string>* out);
  /// A mapping of strings to strings.
  bool GetStringMap(const YamlField& field, std::map<std::string, std::string>* out);

  /// "a list", "a mapping", "nothing" or the quoted scalar: for "expected X, got Y".
  static std::string Describe(const YamlNode& node);

 private:
  void TypeError(const YamlField& field, std::string_view expected);

  std::string file_;
  Diagnostics* diags_;
  int errors_ = 0;
};

}  // namespace runbook
