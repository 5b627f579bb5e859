// Reads a runbook file into the typed model (model.h), checks it and fills in defaults.
// Validation reports every error it finds, not just the first, each located at the YAML node
// that is wrong. Unknown keys are errors, with a "did you mean" when one is close.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/diagnostics.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

struct LoadResult {
  std::unique_ptr<Runbook> runbook;  // null when there are errors
  Diagnostics diagnostics;           // errors and warnings, in file order
  bool ok() const { return runbook != nullptr; }
};

/// Reads and validates the file at `path`. An unreadable file, a folder, an empty or binary
/// file, malformed YAML: each is an error diagnostic naming the file.
LoadResult LoadRunbookFile(const std::string& path);

/// Validates `text` as if read from `path`; `dir` is the folder relative paths resolve against.
/// With `read_files` the files the runbook names are checked too (kubectl manifests exist and
/// their placeholders are valid), as LoadRunbookFile does; without, the text alone is checked
/// (a runbook stored in the audit log or a plan, whose files may have changed since).
LoadResult LoadRunbookText(std::string text, const std::string& path, const std::string& dir,
                           bool read_files = false);

/// Checks `-p K=V` values against the runbook's params: unknown names, missing required
/// params, pattern mismatches. Returns every param's value (defaults applied) or an error
/// message listing each problem on its own line.
Result<std::map<std::string, std::string>> BindParams(
    const Runbook& runbook, const std::map<std::string, std::string>& given);

/// After BindParams: renders the placeholders of every target field (SPEC §5: a target's text fields take
/// params, rendered before anything runs): the named targets and each action's resolved copy.
/// Paths are resolved against the runbook's folder once rendered; a host that renders to
/// something that is not a host is an error naming the field.
Status BindTargets(Runbook* runbook, const std::map<std::string, std::string>& params);

/// Reads each secret from its environment variable or file (a trailing newline is dropped).
/// Missing ones are an error that names the secret and where it was looked for.
Result<std::map<std::string, std::string>> ResolveSecrets(const Runbook& runbook);

/// Parses "500ms", "30s", "5m", "2h" (also "1h30m"). Returns false on anything else.
bool ParseDuration(const std::string& text, Duration* out);
/// "1.5s", "2m", "250ms": a duration for humans.
std::string FormatDuration(Duration d);

}  // namespace runbook
