#include "engine/redactor.h"

#include <algorithm>

namespace runbook {

namespace {
constexpr std::string_view kMask = "***";
}  // namespace

void Redactor::Add(std::string_view secret) {
  if (secret.empty()) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  // Longest first, so that a secret containing another is masked whole.
  auto pos = std::find_if(secrets_.begin(), secrets_.end(),
                          [&](const std::string& s) { return s.size() < secret.size(); });
  secrets_.insert(pos, std::string(secret));
}

std::string Redactor::Redact(std::string_view text) const {
  if (secrets_.empty()) return std::string(text);
  // One pass, trying the longest secret first at each position: masked text is never
  // searched again, so a secret can never match inside a previous "***".
  bool first_byte[256] = {};
  for (const std::string& s : secrets_) first_byte[static_cast<unsigned char>(s[0])] = true;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool masked = false;
    if (first_byte[static_cast<unsigned char>(text[i])]) {
      for (const std::string& s : secrets_) {
        if (text.compare(i, s.size(), s) == 0) {
          out += kMask;
          i += s.size();
          masked = true;
          break;
        }
      }
    }
    if (!masked) out += text[i++];
  }
  return out;
}

size_t Redactor::longest() const { return secrets_.empty() ? 0 : secrets_.front().size(); }

}  // namespace runbook
