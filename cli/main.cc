// The `runbook` binary: parses the command line (CLI11) and hands each command to its
// function in commands.h. Usage errors exit 2 (SPEC §4).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"

namespace {

using runbook::cli::GlobalOptions;

void AddAuditDb(CLI::App* cmd, GlobalOptions* global) {
  cmd->add_option("--audit-db", global->audit_db,
                  "audit database (default: $RUNBOOK_AUDIT_DB, else .runbook/audit.db)");
}

int Main(int argc, char** argv) {
  CLI::App app{
      "runbook: run deployments from YAML runbooks, roll them back by themselves when "
      "anything fails, and keep a tamper-evident audit log.\n"
      "Start with `runbook validate FILE`, then `runbook plan FILE`, then `runbook run FILE`."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "runbook 0.1.0");
  GlobalOptions global;
  int code = 0;

  std::vector<std::string> files;
  auto* validate = app.add_subcommand("validate", "parse, check and compile runbooks (exit 2 if invalid)");
  validate->add_option("FILE", files, "runbook files")->required();
  AddAuditDb(validate, &global);
  validate->callback([&] { code = runbook::cli::Validate(global, files); });

  runbook::cli::PlanOptions plan;
  auto* plan_cmd = app.add_subcommand("plan", "print and store the change request for a run");
  plan_cmd->add_option("FILE", plan.file, "runbook file")->required();
  plan_cmd->add_option("-p,--param", plan.params, "a param as NAME=VALUE (repeatable)");
  plan_cmd->add_option("--as", plan.as, "who requests the change (default: login name)");
  plan_cmd->add_option("--out", plan.out, "also write the plan to this file");
  plan_cmd->add_flag("--json", plan.json, "print the plan as JSON");
  plan_cmd->add_option("--template", plan.template_file,
                       "render the change request through this Mustache template instead of "
                       "the built-in one (docs/templates.md)");
  AddAuditDb(plan_cmd, &global);
  plan_cmd->callback([&] { code = runbook::cli::Plan(global, plan); });

  std::string graph_file, format = "dot";
  auto* graph = app.add_subcommand("graph", "print the compiled state machine");
  graph->add_option("FILE", graph_file, "runbook file")->required();
  graph->add_option("--format", format, "dot or mermaid (default dot)");
  AddAuditDb(graph, &global);
  graph->callback([&] { code = runbook::cli::Graph(global, graph_file, format); });

  runbook::cli::RunCommandOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "execute a runbook; exit 0 succeeded, 1 rolled back, 2 invalid, 3 rollback "
             "failed, 4 refused, 5 precheck failed");
  run_cmd->add_option("FILE", run.file, "runbook file")->required();
  run_cmd->add_option("-p,--param", run.params, "a param as NAME=VALUE (repeatable)");
  run_cmd->add_option("--plan", run.plan_id, "the approved plan to run");
  run_cmd->add_option("--as", run.as, "operator name recorded in the audit log");
  run_cmd->add_flag("--dry-run", run.dry_run,
                    "run prechecks and server-side dry runs, render every command, change nothing");
  run_cmd->add_flag("--json", run.json, "print a JSON summary on stdout at the end");
  AddAuditDb(run_cmd, &global);
  run_cmd->callback([&] { code = runbook::cli::Run(global, run); });

  bool runs_json = false;
  auto* runs = app.add_subcommand("runs", "list runs: id, runbook, state, start, duration, operator");
  runs->add_flag("--json", runs_json, "print JSON");
  AddAuditDb(runs, &global);
  runs->callback([&] { code = runbook::cli::Runs(global, runs_json); });

  std::string replay_id;
  bool replay_json = false, replay_verify = false;
  auto* replay = app.add_subcommand("replay", "post-mortem timeline of a run from the audit log");
  replay->add_option("RUN_ID", replay_id, "the run (see `runbook runs`)")->required();
  replay->add_flag("--json", replay_json, "print JSON");
  replay->add_flag("--verify", replay_verify,
                   "re-derive the transitions from the recorded runbook and step results");
  AddAuditDb(replay, &global);
  replay->callback(
      [&] { code = runbook::cli::Replay(global, replay_id, replay_json, replay_verify); });

  auto* audit = app.add_subcommand("audit", "check or export the audit log");
  audit->require_subcommand(1);
  bool verify_json = false;
  auto* verify = audit->add_subcommand("verify", "check the whole hash chain (exit 6 if broken)");
  verify->add_flag("--json", verify_json, "print JSON");
  AddAuditDb(verify, &global);
  verify->callback([&] { code = runbook::cli::AuditVerify(global, verify_json); });
  std::string export_run, export_format = "jsonl";
  auto* exp = audit->add_subcommand("export", "print every event as one JSON object a line");
  exp->add_option("--run", export_run, "only this run's events");
  exp->add_option("--format", export_format, "jsonl (the only format)");
  AddAuditDb(exp, &global);
  exp->callback([&] { code = runbook::cli::AuditExport(global, export_run, export_format); });
  AddAuditDb(audit, &global);

  bool recover_json = false;
  auto* recover = app.add_subcommand(
      "recover", "finish runs whose executor died: stop the interrupted step, roll back, free the lock");
  recover->add_flag("--json", recover_json, "print a JSON summary per recovered run");
  AddAuditDb(recover, &global);
  recover->callback([&] { code = runbook::cli::Recover(global, recover_json); });

  std::string report_id, report_out, report_template;
  auto* report = app.add_subcommand("report", "write the post-mortem report of a run as HTML");
  report->add_option("RUN_ID", report_id, "the run (see `runbook runs`)")->required();
  report->add_option("--out", report_out, "the HTML file to write")->required();
  report->add_option("--template", report_template,
                     "render the report through this Mustache template instead of the "
                     "built-in one (docs/templates.md)");
  AddAuditDb(report, &global);
  report->callback([&] {
    code = runbook::cli::Report(global, report_id, report_out, report_template);
  });

  bool plans_json = false;
  std::string show_id;
  auto* plans = app.add_subcommand("plans", "list plans with their status and approvals");
  plans->add_flag("--json", plans_json, "print JSON");
  AddAuditDb(plans, &global);
  auto* plans_show = plans->add_subcommand("show", "one plan with its approvals");
  plans_show->add_option("PLAN_ID", show_id, "the plan")->required();
  plans_show->add_flag("--json", plans_json, "print JSON");
  AddAuditDb(plans_show, &global);
  plans->callback([&] {
    code = plans_show->parsed() ? runbook::cli::PlansShow(global, show_id, plans_json)
                                : runbook::cli::Plans(global, plans_json);
  });

  std::string approve_id, approve_as, approve_comment, approve_key;
  auto* approve = app.add_subcommand("approve", "approve a plan (bound to its plan hash)");
  approve->add_option("PLAN_ID", approve_id, "the plan")->required();
  approve->add_option("--as", approve_as, "who approves")->required();
  approve->add_option("--comment", approve_comment, "why");
  approve->add_option("--key", approve_key, "SSH private key to sign the approval with");
  AddAuditDb(approve, &global);
  approve->callback([&] {
    code = runbook::cli::Approve(global, approve_id, approve_as, approve_comment, approve_key);
  });

  std::string reject_id, reject_as, reject_comment;
  auto* reject = app.add_subcommand("reject", "reject a plan: it can no longer run");
  reject->add_option("PLAN_ID", reject_id, "the plan")->required();
  reject->add_option("--as", reject_as, "who rejects")->required();
  reject->add_option("--comment", reject_comment, "why")->required();
  AddAuditDb(reject, &global);
  reject->callback(
      [&] { code = runbook::cli::Reject(global, reject_id, reject_as, reject_comment); });

  auto* schema = app.add_subcommand("schema", "print the JSON Schema of the runbook format");
  schema->callback([&] { code = runbook::cli::Schema(); });

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
