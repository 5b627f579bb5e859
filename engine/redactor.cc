#include "engine/redactor.h"

#include <algorithm>

namespace runbook {

namespace {
constexpr std::string_view kMask = "***";
/// Lines of a multi-line secret shorter than this are not masked on their own ("}", "==").
constexpr size_t kShortestLine = 4;
}  // namespace

void Redactor::Add(std::string_view secret) {
  AddOne(secret);
  std::string_view trimmed = secret;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.remove_suffix(1);
  AddOne(trimmed);
  if (trimmed.find('\n') == std::string_view::npos) return;
  size_t start = 0;
  while (start <= trimmed.size()) {
    size_t end = trimmed.find('\n', start);
    if (end == std::string_view::npos) end = trimmed.size();
    std::string_view line = trimmed.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= kShortestLine) AddOne(line);
    start = end + 1;
  }
}

void Redactor::AddOne(std::string_view secret) {
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

std::string Redactor::RedactCutStart(std::string_view text) const {
  size_t cut = 0;
  for (const std::string& s : secrets_) {
    for (size_t k = std::min(s.size() - 1, text.size()); k > cut; --k) {
      if (text.compare(0, k, s, s.size() - k, k) == 0) {
        cut = k;
        break;
      }
    }
  }
  if (cut == 0) return Redact(text);
  return std::string(kMask) + Redact(text.substr(cut));
}

size_t Redactor::SafePrefix(std::string_view text) const {
  const size_t keep = longest() == 0 ? 0 : longest() - 1;
  if (text.size() <= keep) return 0;
  size_t safe = text.size() - keep;
  // A secret that starts before `safe` and may run past it: stop before it.
  for (size_t i = safe > keep ? safe - keep : 0; i < safe; ++i) {
    for (const std::string& s : secrets_) {
      const size_t n = std::min(s.size(), text.size() - i);
      if (i + n > safe && text.compare(i, n, s, 0, n) == 0) return i;
    }
  }
  return safe;
}

std::string RedactingStream::Feed(std::string_view piece, bool continues) {
  pending_.append(piece);
  if (!continues) {
    std::string out = redactor_->Redact(pending_);
    pending_.clear();
    return out;
  }
  const size_t safe = redactor_->SafePrefix(pending_);
  std::string out = redactor_->Redact(std::string_view(pending_).substr(0, safe));
  pending_.erase(0, safe);
  return out;
}

size_t Redactor::longest() const { return secrets_.empty() ? 0 : secrets_.front().size(); }

}  // namespace runbook
