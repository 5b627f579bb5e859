#include "engine/pattern.h"

#include <re2/re2.h>

#include <utility>

namespace runbook {

Result<Pattern> Pattern::Compile(std::string_view source) {
  RE2::Options options;
  options.set_log_errors(false);  // the error is returned, not written to stderr
  auto re = std::make_unique<RE2>(re2::StringPiece(source.data(), source.size()), options);
  if (!re->ok()) return Result<Pattern>::Error(StatusKind::kInvalid, re->error());
  return Pattern(std::move(re));
}

Pattern::Pattern(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

bool Pattern::FullMatch(std::string_view text) const {
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool Pattern::Search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

}  // namespace runbook
