// Errors in a runbook, located as compilers locate them: FILE:LINE:COL: error: message.
#pragma once

#include <string>
#include <vector>

namespace runbook {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;  // from 1; 0: the file as a whole
  int col = 0;
  std::string message;  // lower-case, names the offending value

  /// "file:line:col: error: message" (or "file: error: message" without a line).
  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

bool HasErrors(const Diagnostics& diags);

}  // namespace runbook
