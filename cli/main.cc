// The `runbook` binary: parses the command line (CLI11) and hands each command to its
// function in commands.h; each command family declares its own arguments there. Usage errors
// exit 2 (SPEC §4).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"

namespace {

using namespace runbook::cli;

int Main(int argc, char** argv) {
  CLI::App app{
      "runbook: run deployments from YAML runbooks, roll them back by themselves when "
      "anything fails, and keep a tamper-evident audit log.\n"
      "Start with `runbook validate FILE`, then `runbook plan FILE`, then `runbook run FILE`."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "runbook 0.1.0");
  // `runbook --help` lists the commands in the order they are created, which is not by
  // family: create them all here; each family then adds its arguments (commands.h).
  for (const char* name : {"validate", "plan", "graph", "run", "runs", "replay", "audit",
                           "recover", "report", "plans", "approve", "reject", "schema"}) {
    app.add_subcommand(name);
  }
  // What the command line is parsed into: CLI11 refers to these until Main returns.
  GlobalOptions global;
  RunbookCommandArgs runbook_args;
  RunCommandArgs run_args;
  PlanCommandArgs plan_args;
  AuditCommandArgs audit_args;
  int code = 0;  // set by the command's callback
  AddRunbookCommands(app, global, runbook_args, code);
  AddRunCommands(app, global, run_args, code);
  AddPlanCommands(app, global, plan_args, code);
  AddAuditCommands(app, global, audit_args, code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::fprintf(stderr, "run `runbook --help` or `runbook COMMAND --help` for usage\n");
    return runbook::kExitInvalid;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    // Library code returns errors as values; this is the last line of defence.
    std::fprintf(stderr, "runbook: internal error: %s\n", e.what());
    return 70;
  }
}
