// Regular expressions a runbook writes: a param's `pattern` and an http check's `body_regex`
// (SPEC §5, "Patterns run in linear time"). They use RE2 syntax and semantics: RE2 matches in
// time linear in the text and in bounded memory, never recursing per character, so no value
// and no pattern can hang or crash a run. What RE2 does not offer (backreferences, lookaround)
// is a validation error at the pattern, not a surprise at run time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace re2 {
class RE2;
}

namespace runbook {

/// A compiled RE2 pattern. Immutable once compiled; matching is thread-safe. Movable, not
/// copyable.
class Pattern {
 public:
  /// Compiles `source` with RE2's default (UTF-8, Perl-like) syntax. The error is RE2's
  /// reason, such as "invalid escape sequence: \1".
  static Result<Pattern> Compile(std::string_view source);

  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
  ~Pattern();

  /// Whether the whole of `text` matches (a param's `pattern`).
  bool FullMatch(std::string_view text) const;
  /// Whether the pattern matches somewhere in `text` (an http check's `body_regex`).
  bool Search(std::string_view text) const;

 private:
  explicit Pattern(std::unique_ptr<re2::RE2> re);
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace runbook
