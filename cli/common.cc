#include "cli/common.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "cli/command_log.h"

namespace runbook::cli {

const Environment& SystemEnv() {
  static const std::unique_ptr<Environment> env = MakeSystemEnvironment();
  return *env;
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "runbook: error: %s\n", message.c_str());
  CommandLog::Get().Error(message);
}

int Fail(const Status& status) {
  PrintError(status.message());
  return ExitCodeFor(status);
}

bool ReportLoad(const LoadedRunbook& loaded) {
  for (const Diagnostic& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!loaded.error_summary.empty()) {
    std::fprintf(stderr, "%s\n", loaded.error_summary.c_str());
    CommandLog::Get().Error(loaded.error_summary);
    return false;
  }
  if (!loaded.status.ok()) {
    PrintError(loaded.status.message());
    return false;
  }
  return true;
}

std::unique_ptr<AuditStore> OpenDatabase(const GlobalOptions& global, int* code) {
  auto db = OpenAuditDatabase(global.audit_db, SystemEnv());
  if (!db.ok()) {
    PrintError(db.message());
    *code = ExitCodeFor(db.status());
    return nullptr;
  }
  // What opening did with records that waited for the database (a full disk).
  const ReplayReport& replay = (*db)->journal_replay();
  for (const std::string& warning : replay.warnings)
    std::fprintf(stderr, "runbook: warning: %s\n", warning.c_str());
  auto records = [](int n) { return std::to_string(n) + " audit record" + (n == 1 ? "" : "s"); };
  if (replay.written > 0)
    std::fprintf(stderr, "runbook: note: wrote %s from the journal %s into the audit database\n",
                 records(replay.written).c_str(), (*db)->journal_path().c_str());
  if (replay.left > 0)
    std::fprintf(stderr,
                 "runbook: note: %s still wait in the journal %s: the audit database cannot be "
                 "written yet (%s)\n",
                 records(replay.left).c_str(), (*db)->journal_path().c_str(),
                 replay.status.message().c_str());
  return std::move(db.value());
}

void PrintHeldRecords(AuditStore& db) {
  std::vector<std::string> held = db.FlushHeldRecords();
  if (held.empty()) return;
  PrintError(std::to_string(held.size()) + " audit record" + (held.size() == 1 ? "" : "s") +
             " could be written neither to the audit database nor to its journal " +
             db.journal_path() +
             "; here they are, one JSON object a line, so that they are "
             "not lost:");
  for (const std::string& record : held) std::fprintf(stderr, "%s\n", record.c_str());
}

CLI::App* Command(CLI::App& app, const std::string& name, const std::string& description) {
  CLI::App* cmd = app.get_subcommand(name);
  cmd->description(description);
  return cmd;
}

void AddAuditDbOption(CLI::App* cmd, GlobalOptions* global) {
  cmd->add_option("--audit-db", global->audit_db,
                  "audit database (default: $RUNBOOK_AUDIT_DB, else audit_db in "
                  "~/.config/runbook/config.yaml or /etc/runbook/config.yaml, else "
                  "~/.local/state/runbook/audit.db)");
}

std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace runbook::cli
