// Helpers shared by the cli's commands: loading a runbook with its diagnostics printed,
// `-p K=V` parsing, the audit database's path, who is running.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_store.h"
#include "engine/loader.h"

namespace runbook::cli {

/// Exit codes (SPEC §4).
enum ExitCode : int {
  kExitOk = 0,
  kExitRolledBack = 1,
  kExitInvalid = 2,
  kExitRollbackFailed = 3,
  kExitRefused = 4,
  kExitPrecheckFailed = 5,
  kExitTampered = 6,
};

/// Options every command takes.
struct GlobalOptions {
  std::string audit_db;  // --audit-db; else $RUNBOOK_AUDIT_DB; else .runbook/audit.db
};

/// The audit database path the options select.
std::string AuditDbPath(const GlobalOptions& global);

/// Opens the audit database, printing why not on failure.
std::unique_ptr<AuditStore> OpenAudit(const GlobalOptions& global);

/// Loads and validates `path`, printing every diagnostic to stderr. Null when invalid.
std::unique_ptr<Runbook> LoadOrReport(const std::string& path);

/// Loads and validates `path` and binds its params from `-p K=V` arguments, printing every
/// problem. Null when anything is wrong (exit 2); `*params` holds every param's value.
std::unique_ptr<Runbook> LoadWithParams(const std::string& path,
                                        const std::vector<std::string>& param_args,
                                        std::map<std::string, std::string>* params);

/// Parses `-p K=V` arguments; on a malformed one prints why and returns false.
bool ParseParamArgs(const std::vector<std::string>& args, std::map<std::string, std::string>* out);

/// --as NAME, else $RUNBOOK_OPERATOR, else the login name.
std::string OperatorName(const std::string& as);

/// Prints "runbook: error: MESSAGE" to stderr.
void PrintError(const std::string& message);

}  // namespace runbook::cli
