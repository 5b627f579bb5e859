// One function per `runbook` command, in one file per command family: runbook_commands.cc
// (validate, plan, graph, schema), run_commands.cc (run, recover), plan_commands.cc (plans,
// approve, reject), audit_commands.cc (runs, replay, report, audit). main.cc parses the
// arguments into these option structs. Each calls app/ and prints; each returns the process
// exit code (SPEC §4, engine/exit_code.h).
#pragma once

#include <string>
#include <vector>

#include "cli/common.h"

namespace runbook::cli {

int Validate(const GlobalOptions& global, const std::vector<std::string>& files);

struct PlanOptions {
  std::string file;
  std::vector<std::string> params;
  std::string as;
  std::string out;
  std::string template_file;  // --template: replaces templates/change-request.md
  bool json = false;
};
int Plan(const GlobalOptions& global, const PlanOptions& options);

int Graph(const GlobalOptions& global, const std::string& file, const std::string& format);
int Schema();

struct RunCommandOptions {
  std::string file;
  std::vector<std::string> params;
  std::string plan_id;
  std::string as;
  bool dry_run = false;
  bool json = false;
};
int Run(const GlobalOptions& global, const RunCommandOptions& options);

int Runs(const GlobalOptions& global, bool json);

/// `runbook recover`: finishes runs whose executor died.
int Recover(const GlobalOptions& global, bool json);

/// `runbook report RUN_ID --out F.html [--template T]`: the post-mortem report, through the
/// template file T when given.
int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out,
           const std::string& template_file);

// The change-request approval flow (plan_commands.cc).
int Plans(const GlobalOptions& global, bool json);
int PlansShow(const GlobalOptions& global, const std::string& plan_id, bool json);
int Approve(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
            const std::string& comment, const std::string& key);
int Reject(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
           const std::string& comment);
int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify);
int AuditVerify(const GlobalOptions& global, bool json);
int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format);

}  // namespace runbook::cli
