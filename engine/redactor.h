// Keeps secret values out of everything printed or recorded.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace runbook {

/// Replaces each known secret value with `***`. Longer secrets are replaced first, so one
/// secret that contains another is hidden whole. Thread-safe once built.
class Redactor {
 public:
  /// Adds a secret. A secret is also masked in the forms output cuts it into: without its
  /// trailing blank lines (a file ending in "\n\n") and, when it spans several lines (a PEM
  /// key), each of its lines of 4 bytes or more on its own, since output is printed and
  /// matched line by line.
  void Add(std::string_view secret);
  std::string Redact(std::string_view text) const;
  /// Redact() for the kept tail of a longer output, which may begin inside a secret: a start
  /// that is the end of a secret is masked too.
  std::string RedactCutStart(std::string_view text) const;
  /// How many bytes at the start of `text` can be redacted now without cutting a secret that
  /// may continue in text still to come: all but the last longest()-1 bytes, less any secret
  /// that starts before that point and runs past it.
  size_t SafePrefix(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }
  /// The length of the longest secret: a streaming caller keeps this many bytes back.
  size_t longest() const;

 private:
  void AddOne(std::string_view secret);

  std::vector<std::string> secrets_;
};

/// Redacts one stream that arrives in pieces (a long output line cut into chunks): a secret
/// split between two pieces is still masked whole. Not thread-safe.
class RedactingStream {
 public:
  explicit RedactingStream(const Redactor& redactor) : redactor_(&redactor) {}
  /// Takes the next piece; `continues` says the line goes on in the next piece. Returns the
  /// redacted text that can be shown now (possibly empty while a secret may still be cut).
  std::string Feed(std::string_view piece, bool continues);

 private:
  const Redactor* redactor_;
  std::string pending_;
};

}  // namespace runbook
