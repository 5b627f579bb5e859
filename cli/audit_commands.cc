// runs, replay, report, audit verify, audit export: the commands that read the audit log
// (app/history.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "app/atomic_file.h"
#include "app/history.h"
#include "app/migrate.h"
#include "app/signer.h"
#include "audit/audit_format.h"
#include "cli/commands.h"

namespace runbook::cli {

int Runs(const GlobalOptions& global, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto list = ListRuns(db->events());
  if (!list.ok()) return Fail(list.status());
  if (json) {
    std::printf("%s\n", RunsJson(list->runs, list->failed_hosts).dump(2).c_str());
  } else {
    std::fputs(RunsText(list->runs, list->failed_hosts).c_str(), stdout);
  }
  return kExitOk;
}

int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto view = ReplayRun(db->events(), run_id, verify);
  if (!view.ok()) return Fail(view.status());
  const std::vector<std::string>& problems = view->divergences;
  if (json) {
    nlohmann::ordered_json out = ReplayJson(view->run, view->events);
    if (verify) {
      out["verified"] = problems.empty();
      out["divergences"] = problems;
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(ReplayText(view->run, view->events).c_str(), stdout);
    if (verify) {
      if (problems.empty()) {
        std::printf("verify: the recorded transitions are exactly what the runbook and the "
                    "recorded step results lead to\n");
      } else {
        for (const auto& p : problems) std::printf("verify: DIVERGENCE: %s\n", p.c_str());
      }
    }
  }
  return problems.empty() ? kExitOk : kExitTampered;
}

int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out,
           const std::string& template_file) {
  if (out.empty()) return Fail(Status::Invalid("--out needs a file name, e.g. --out report.html"));
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec))
    return Fail(Status::Invalid("--out " + out + " is a folder; give a file name, e.g. --out " +
                                (std::filesystem::path(out) / (run_id + ".html")).string()));
  std::optional<DocumentTemplate> custom;
  if (!template_file.empty()) {
    auto read = ReadTemplateFile(template_file);
    if (!read.ok()) return Fail(read.status());
    custom = std::move(read.value());
  }
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  StoredRun run;
  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  auto html = RenderRunReport(db->events(), run_id, custom, &run, &db->plans(), signer.get());
  if (!html.ok()) return Fail(html.status());
  if (Status s = WriteFileAtomically(out, *html); !s.ok()) {
    PrintError("cannot write the report: " + s.message());
    return kExitInvalid;
  }
  std::printf("wrote the post-mortem report of run %s (%s, %s) to %s\n", run_id.c_str(),
              run.runbook.c_str(), run.state.empty() ? "unfinished" : run.state.c_str(),
              out.c_str());
  return kExitOk;
}

int AuditVerify(const GlobalOptions& global, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto report = db->events().Verify();
  // Only a damaged or tampered log is exit 6; a database that stayed locked is busy (4).
  if (!report.ok()) return Fail(report.status());
  if (json) {
    std::printf("%s\n", nlohmann::json({{"ok", report->ok},
                                        {"events_checked", report->events_checked},
                                        {"bad_seq", report->bad_seq},
                                        {"problem", report->problem},
                                        {"head_seq", report->head_seq},
                                        {"head_hash", report->head_hash}})
                            .dump(2)
                            .c_str());
  } else {
    std::fputs(VerifyText(*report, db->location()).c_str(),
               report->ok ? stdout : stderr);
  }
  return report->ok ? kExitOk : kExitTampered;
}

int AuditMigrate(const GlobalOptions& global, const std::string& to, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto report = MigrateAuditLog(*db, to);
  if (!report.ok()) return Fail(report.status());
  const VerifyReport& v = report->verified;
  if (json) {
    std::printf("%s\n", nlohmann::json({{"to", report->to},
                                        {"runs", report->runs},
                                        {"events", report->events},
                                        {"plans", report->plans},
                                        {"approvals", report->approvals},
                                        {"verified", v.ok},
                                        {"head_seq", v.head_seq},
                                        {"head_hash", v.head_hash}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("copied %d runs, %d events, %d plans and %d approvals from %s to %s\n",
                report->runs, report->events, report->plans, report->approvals,
                db->location().c_str(), report->to.c_str());
    std::fputs(VerifyText(v, report->to).c_str(), v.ok ? stdout : stderr);
    if (v.ok)
      std::printf("next: point --audit-db, $RUNBOOK_AUDIT_DB or audit_db in the settings file at "
                  "%s\n", report->to.c_str());
  }
  return v.ok ? kExitOk : kExitTampered;
}

int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format) {
  if (format != "jsonl") return Fail(Status::Invalid("--format takes jsonl, got '" + format + "'"));
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto events =
      ExportEvents(db->events(), run_id.empty() ? std::nullopt : std::optional<std::string>(run_id));
  if (!events.ok()) return Fail(events.status());
  std::fputs(ExportJsonl(*events).c_str(), stdout);
  return kExitOk;
}

namespace {

// `audit verify` and `audit export`, under `audit`.
void AddAuditSubcommands(CLI::App* audit, GlobalOptions& global, AuditCommandArgs& args,
                         int& code) {
  CLI::App* verify =
      audit->add_subcommand("verify", "check the whole hash chain (exit 6 if broken)");
  verify->add_flag("--json", args.verify_json, "print JSON");
  AddAuditDbOption(verify, &global);
  verify->callback([&global, &args, &code] { code = AuditVerify(global, args.verify_json); });
  CLI::App* exp = audit->add_subcommand("export", "print every event as one JSON object a line");
  exp->add_option("--run", args.export_run, "only this run's events");
  exp->add_option("--format", args.export_format, "jsonl (the only format)");
  AddAuditDbOption(exp, &global);
  CLI::App* migrate = audit->add_subcommand(
      "migrate", "copy this audit log into an empty PostgreSQL store, chain intact, and verify it");
  migrate->add_option("--to", args.migrate_to, "postgresql://USER@HOST:PORT/DB (password: "
                      "~/.pgpass or PGPASSWORD)")->required();
  migrate->add_flag("--json", args.migrate_json, "print JSON");
  AddAuditDbOption(migrate, &global);
  migrate->callback([&global, &args, &code] {
    code = AuditMigrate(global, args.migrate_to, args.migrate_json);
  });
  exp->callback(
      [&global, &args, &code] { code = AuditExport(global, args.export_run, args.export_format); });
}

}  // namespace

void AddAuditCommands(CLI::App& app, GlobalOptions& global, AuditCommandArgs& args, int& code) {
  CLI::App* runs = Command(app, "runs",
                           "list runs: id, runbook, state, start, duration, operator, exit code, "
                           "failed hosts");
  runs->add_flag("--json", args.runs_json, "print JSON");
  AddAuditDbOption(runs, &global);
  runs->callback([&global, &args, &code] { code = Runs(global, args.runs_json); });

  CLI::App* replay = Command(app, "replay", "post-mortem timeline of a run from the audit log");
  replay->add_option("RUN_ID", args.replay_id, "the run (see `runbook runs`)")->required();
  replay->add_flag("--json", args.replay_json, "print JSON");
  replay->add_flag("--verify", args.replay_verify,
                   "re-derive the transitions from the recorded runbook and step results");
  AddAuditDbOption(replay, &global);
  replay->callback([&global, &args, &code] {
    code = Replay(global, args.replay_id, args.replay_json, args.replay_verify);
  });

  CLI::App* audit = Command(app, "audit", "check or export the audit log");
  audit->require_subcommand(1);
  AddAuditSubcommands(audit, global, args, code);
  AddAuditDbOption(audit, &global);

  CLI::App* report = Command(app, "report", "write the post-mortem report of a run as HTML");
  report->add_option("RUN_ID", args.report_id, "the run (see `runbook runs`)")->required();
  report->add_option("--out", args.report_out, "the HTML file to write")->required();
  report->add_option("--template", args.report_template,
                     "render the report through this Mustache template instead of the "
                     "built-in one (docs/templates.md)");
  AddAuditDbOption(report, &global);
  report->callback([&global, &args, &code] {
    code = Report(global, args.report_id, args.report_out, args.report_template);
  });
}

}  // namespace runbook::cli
