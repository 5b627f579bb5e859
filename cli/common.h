// What the cli's commands share: the options every command takes, and printing an error or a
// loaded runbook's diagnostics. The use cases themselves are in app/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/inputs.h"
#include "engine/exit_code.h"
#include "engine/status.h"

namespace CLI {
class App;
}

namespace runbook::cli {

/// Options every command takes.
struct GlobalOptions {
  std::string audit_db;  // --audit-db; else $RUNBOOK_AUDIT_DB; else the per-user state dir
  // --log-file, --log-format, --log-level (cli/command_log.h); "" when not given.
  std::string log_file, log_format, log_level;
};

/// The real environment (clocks, sleeps, getenv) every command hands to app/.
const Environment& SystemEnv();

/// Prints "runbook: error: MESSAGE" to stderr.
void PrintError(const std::string& message);

/// A text table: columns two spaces apart, the last one not padded, one line a row.
std::string Columns(const std::vector<std::vector<std::string>>& rows);

/// Prints `status`'s message as an error and returns its exit code (engine/exit_code.h).
int Fail(const Status& status);

/// Prints a loaded runbook's diagnostics to stderr and, when it did not load, why; returns
/// whether it loaded.
bool ReportLoad(const LoadedRunbook& loaded);

/// Opens the audit database the options select; on failure prints why and sets `*code`
/// (engine/exit_code.h). Says what opening did with records waiting in its journal.
std::unique_ptr<AuditStore> OpenDatabase(const GlobalOptions& global, int* code);

/// Prints to stderr the audit records that could be written neither to `db` nor to its
/// journal and are still held in memory, after one more try: the last place they can go.
void PrintHeldRecords(AuditStore& db);

/// The top-level command `name` of `app`, with its help line set to `description`. main.cc
/// creates every top-level command first, because `runbook --help` lists them in the order
/// they were created and that order is not by family; a name it did not create throws
/// CLI::OptionNotFound (a programming error, caught as an internal error).
CLI::App* Command(CLI::App& app, const std::string& name, const std::string& description);

/// Adds `--audit-db` to `cmd`, parsed into `global`.
void AddAuditDbOption(CLI::App* cmd, GlobalOptions* global);

}  // namespace runbook::cli
