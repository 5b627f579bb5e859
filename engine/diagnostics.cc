#include "engine/diagnostics.h"

namespace runbook {

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (col > 0) out += ":" + std::to_string(col);
  }
  out += severity == Severity::kError ? ": error: " : ": warning: ";
  out += message;
  return out;
}

bool HasErrors(const Diagnostics& diags) {
  for (const Diagnostic& d : diags) {
    if (d.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

}  // namespace runbook
