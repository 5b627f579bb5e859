#include "cli/common.h"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace runbook::cli {

const Environment& SystemEnv() {
  static const std::unique_ptr<Environment> env = MakeSystemEnvironment();
  return *env;
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "runbook: error: %s\n", message.c_str());
}

int Fail(const Status& status) {
  PrintError(status.message());
  return ExitCodeFor(status);
}

bool ReportLoad(const LoadedRunbook& loaded) {
  for (const Diagnostic& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!loaded.error_summary.empty()) {
    std::fprintf(stderr, "%s\n", loaded.error_summary.c_str());
    return false;
  }
  if (!loaded.status.ok()) {
    PrintError(loaded.status.message());
    return false;
  }
  return true;
}

std::unique_ptr<AuditDatabase> OpenDatabase(const GlobalOptions& global, int* code) {
  auto db = OpenAuditDatabase(global.audit_db, SystemEnv());
  if (!db.ok()) {
    PrintError(db.message());
    *code = ExitCodeFor(db.status());
    return nullptr;
  }
  return std::move(db.value());
}

CLI::App* Command(CLI::App& app, const std::string& name, const std::string& description) {
  CLI::App* cmd = app.get_subcommand(name);
  cmd->description(description);
  return cmd;
}

void AddAuditDbOption(CLI::App* cmd, GlobalOptions* global) {
  cmd->add_option("--audit-db", global->audit_db,
                  "audit database (default: $RUNBOOK_AUDIT_DB, else "
                  "~/.local/state/runbook/audit.db)");
}

}  // namespace runbook::cli
