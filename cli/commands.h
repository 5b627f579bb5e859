// One function per `runbook` command, in one file per command family: runbook_commands.cc
// (validate, plan, graph, schema), run_commands.cc (run, recover), plan_commands.cc (plans,
// approve, reject), audit_commands.cc (runs, stats, replay, report, audit). Each family also
// declares its commands' arguments (the Add*Commands functions at the bottom of its file);
// main.cc only parses. Each command calls app/ and prints; each returns the process exit code
// (SPEC §4, engine/exit_code.h).
#pragma once

#include <string>
#include <vector>

#include "cli/common.h"

namespace CLI {
class App;
}

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
  std::vector<std::string> confirm;
  bool dry_run = false;
  bool json = false;
};
int Run(const GlobalOptions& global, const RunCommandOptions& options);

/// `runbook runs`: the runs `query` selects (app/history.h), newest first.
struct RunsOptions {
  int limit = 0;
  std::string runbook;
  std::vector<std::string> states;
  std::string since;
  std::string operator_name;
  bool json = false;
};
int Runs(const GlobalOptions& global, const RunsOptions& options);

/// `runbook stats`: deployment figures from the audit log (app/stats.h).
struct StatsOptions {
  std::string since;
  std::string runbook;
  bool json = false;
};
int Stats(const GlobalOptions& global, const StatsOptions& options);

/// `runbook recover`: finishes runs whose executor died.
int Recover(const GlobalOptions& global, bool json);

/// `runbook report RUN_ID --out F.html [--template T]`: the post-mortem report, through the
/// template file T when given.
int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out,
           const std::string& template_file);

// The change-request approval flow (plan_commands.cc).
/// `runbook plans`: the plans the filters select (app/plan_history.h), newest first.
struct PlansOptions {
  int limit = 0;
  std::string runbook;
  std::vector<std::string> statuses;
  std::string since;
  std::string requester;
  bool json = false;
};
int Plans(const GlobalOptions& global, const PlansOptions& options);
/// `runbook plans prune --older-than D [--dry-run] [--json] [--as NAME]`.
struct PruneOptions {
  std::string older_than;
  bool dry_run = false;
  bool json = false;
  std::string as;
};
int PlansPrune(const GlobalOptions& global, const PruneOptions& options);
int PlansShow(const GlobalOptions& global, const std::string& plan_id, bool json);
int Approve(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
            const std::string& comment, const std::string& key);
int Reject(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
           const std::string& comment);
int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify);
int AuditVerify(const GlobalOptions& global, bool json);
int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format);

// ---------------------------------------------------------------- registration
// Each Add*Commands adds its family's arguments and a callback per command to commands that
// main.cc has already created in `app`, in the order `runbook --help` lists them (see
// Command() in common.h). The values are parsed into `args` and `global`, and the callback
// sets `code` to the command's exit code: CLI11 keeps references to all three, so they must
// outlive the parse (main.cc owns them for the whole run).

/// The values `validate`, `plan` and `graph` parse into (runbook_commands.cc).
struct RunbookCommandArgs {
  std::vector<std::string> validate_files;
  PlanOptions plan;
  std::string graph_file;
  std::string graph_format = "dot";
};
void AddRunbookCommands(CLI::App& app, GlobalOptions& global, RunbookCommandArgs& args,
                        int& code);

/// The values `run` and `recover` parse into (run_commands.cc).
struct RunCommandArgs {
  RunCommandOptions run;
  bool recover_json = false;
};
void AddRunCommands(CLI::App& app, GlobalOptions& global, RunCommandArgs& args, int& code);

/// The values `plans`, `plans show`, `plans prune`, `approve` and `reject` parse into
/// (plan_commands.cc).
struct PlanCommandArgs {
  PlansOptions plans;
  PruneOptions prune;
  bool show_json = false;
  std::string show_id;
  std::string approve_id, approve_as, approve_comment, approve_key;
  std::string reject_id, reject_as, reject_comment;
};
void AddPlanCommands(CLI::App& app, GlobalOptions& global, PlanCommandArgs& args, int& code);

/// The values `runs`, `stats`, `replay`, `report` and `audit verify|export` parse into
/// (audit_commands.cc).
struct AuditCommandArgs {
  RunsOptions runs;
  StatsOptions stats;
  std::string replay_id;
  bool replay_json = false, replay_verify = false;
  std::string report_id, report_out, report_template;
  bool verify_json = false;
  std::string export_run, export_format = "jsonl";
  std::string migrate_to;
  bool migrate_json = false;
};
void AddAuditCommands(CLI::App& app, GlobalOptions& global, AuditCommandArgs& args, int& code);

/// The values `serve` and `serve passwd` parse into (serve_commands.cc).
struct ServeCommandOptions {
  std::string listen = "127.0.0.1:8080";
  std::string tls_cert, tls_key;
  bool insecure = false;
  int stats_max_age = 10;  // seconds
  std::string users;
  std::string trust_proxy_header;
  std::string passwd_name;
};
/// `runbook serve ...` (argv as main got it) in the binary that serves: runbook-serve, started
/// in place of this process (serve_exec.cc); returns only on failure, with the exit code. In
/// runbook-serve itself (serve_run.cc), -1: go on here.
int ServeElsewhere(int argc, char** argv);
/// `runbook serve`: the web interface (web/server.h), until SIGINT or SIGTERM.
int Serve(const GlobalOptions& global, const ServeCommandOptions& options);
/// `runbook serve passwd NAME`: sets an account's password hash in the users file.
int ServePasswd(const ServeCommandOptions& options, const std::string& name);
void AddServeCommands(CLI::App& app, GlobalOptions& global, ServeCommandOptions& options,
                      int& code);

}  // namespace runbook::cli
