// What every use case starts from: the audit database the options select, who is acting,
// and a runbook loaded, validated and bound to its `-p NAME=VALUE` params.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_database.h"
#include "engine/diagnostics.h"
#include "engine/environment.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

/// The audit database (SPEC §3): `flag` (--audit-db) when given, else $RUNBOOK_AUDIT_DB, else
/// the settings file's `audit_db` (app/config.h), else $XDG_STATE_HOME/runbook/audit.db (when absolute, as the XDG spec asks), else
/// $HOME/.local/state/runbook/audit.db: one log, and one set of locks, per user.
std::string AuditDbPath(const std::string& flag, const Environment& env);

/// This user's state folder: $XDG_STATE_HOME/runbook (when absolute), else
/// ~/.local/state/runbook. The default SQLite log lives there, and with a shared store what a
/// run keeps on this machine (objects kept for a rollback).
std::string StateDir(const Environment& env);

/// Opens (creating when missing) the audit database `flag` selects. A broken settings file is
/// an error here, the first thing every command that reads or writes the log does.
Result<std::unique_ptr<AuditStore>> OpenAuditDatabase(const std::string& flag,
                                                          const Environment& env);

/// Who acts: `as` (--as) when given, else $RUNBOOK_OPERATOR, else the settings file's
/// `operator`, else the login name.
std::string OperatorName(const std::string& as, const Environment& env);

/// A runbook as a command needs it. When `runbook` is null, `diagnostics` (with
/// `error_summary`, "FILE: N errors; nothing was run") or `status` says why.
struct LoadedRunbook {
  std::unique_ptr<Runbook> runbook;
  Diagnostics diagnostics;                  // errors and warnings, in file order
  std::string error_summary;                // set when the file has errors
  Status status;                            // a problem with the params, kind kInvalid
  std::map<std::string, std::string> params;  // every param's bound value (defaults applied)

  bool ok() const { return runbook != nullptr; }
};

/// Loads and validates the runbook at `path`.
LoadedRunbook LoadRunbook(const std::string& path);

/// Loads and validates the runbook at `path` and binds its params from `-p NAME=VALUE`
/// arguments.
LoadedRunbook LoadRunbookWithParams(const std::string& path,
                                    const std::vector<std::string>& param_args);

/// Parses `-p NAME=VALUE` arguments (a later one wins); kInvalid on a malformed one.
Result<std::map<std::string, std::string>> ParseParamArgs(const std::vector<std::string>& args);

}  // namespace runbook
