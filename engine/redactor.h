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
  void Add(std::string_view secret);
  std::string Redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }
  /// The length of the longest secret: a streaming caller keeps this many bytes back.
  size_t longest() const;

 private:
  std::vector<std::string> secrets_;
};

}  // namespace runbook
