// runs, stats, replay, report, audit verify, audit export: the commands that read the audit
// log (app/history.h, app/stats.h).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "app/atomic_file.h"
#include "app/history.h"
#include "app/migrate.h"
#include "app/signer.h"
#include "app/stats.h"
#include "app/time_filter.h"
#include "audit/audit_format.h"
#include "audit/audit_time.h"
#include "cli/commands.h"

namespace runbook::cli {

int Runs(const GlobalOptions& global, const RunsOptions& options) {
  RunQuery query;
  query.limit = options.limit;
  query.runbook = options.runbook;
  query.states = options.states;
  query.operator_name = options.operator_name;
  if (!options.since.empty()) {
    auto since = ParseSince(options.since, SystemEnv().Now());
    if (!since.ok()) return Fail(Status::Invalid("--since: " + since.message()));
    query.since = *since;
  }
  if (Status s = CheckRunQuery(query); !s.ok()) return Fail(s);
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto list = ListRuns(db->events(), query);
  if (!list.ok()) return Fail(list.status());
  if (options.json) {
    std::printf("%s\n", JsonOutput(RunsJson(list->runs, list->failed_hosts)).c_str());
  } else if (list->runs.empty() && (query.limit > 0 || !query.runbook.empty() ||
                                    !query.states.empty() || query.since ||
                                    !query.operator_name.empty())) {
    std::printf("no runs match\n");
  } else {
    std::fputs(RunsText(list->runs, list->failed_hosts).c_str(), stdout);
  }
  return kExitOk;
}

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string RateText(const DeployStats& s) {
  auto rate = s.change_failure_rate();
  return rate ? Fixed(*rate * 100, 1) + "%" : "-";
}

std::string MsText(const std::optional<long long>& ms) {
  return ms ? FormatDurationMs(*ms) : "-";
}

std::string StatsText(const StatsReport& r) {
  const DeployStats& a = r.all;
  if (a.runs == 0 && a.dry_runs == 0) return "no runs recorded in this period\n";
  std::string out = "period: " + r.since + " to " + r.until + " (" + Fixed(a.days, 1) +
                    " days)\n";
  out += "runs: " + std::to_string(a.runs) + " (and " + std::to_string(a.dry_runs) +
         " dry runs), " + std::to_string(a.changed) + " changed something\n";
  out += "deployment frequency: " + Fixed(a.deployments_per_day(), 2) + " a day, " +
         Fixed(a.deployments_per_week(), 2) + " a week\n";
  out += "change failure rate: " + RateText(a) + " (" + std::to_string(a.failed) + " of " +
         std::to_string(a.changed) + ": " + std::to_string(a.rolled_back) + " rolled back, " +
         std::to_string(a.rollback_failed) + " rollback failed)\n";
  out += "time to restore: median " + MsText(a.time_to_restore.median_ms()) + ", p90 " +
         MsText(a.time_to_restore.p90_ms()) + " (" +
         std::to_string(a.time_to_restore.values_ms.size()) + " restored)\n";
  out += "rollback duration: median " + MsText(a.rollback.median_ms()) + ", p90 " +
         MsText(a.rollback.p90_ms()) + "; " + std::to_string(a.rollbacks_within_target()) +
         " of " + std::to_string(a.rollback.values_ms.size()) +
         " within target, " + std::to_string(a.rollbacks_over_target) + " over\n\n";
  std::vector<std::vector<std::string>> rows = {
      {"RUNBOOK", "ENVIRONMENT", "RUNS", "CHANGED", "FAILED", "FAILURE RATE", "PER DAY",
       "RESTORE MEDIAN", "RESTORE P90", "ROLLBACKS OVER TARGET"}};
  for (const RunbookStats& g : r.by_runbook) {
    const DeployStats& s = g.stats;
    rows.push_back({g.runbook, g.environment.empty() ? "-" : g.environment,
                    std::to_string(s.runs), std::to_string(s.changed), std::to_string(s.failed),
                    RateText(s), Fixed(s.deployments_per_day(), 2),
                    MsText(s.time_to_restore.median_ms()), MsText(s.time_to_restore.p90_ms()),
                    std::to_string(s.rollbacks_over_target) + " of " +
                        std::to_string(s.rollback.values_ms.size())});
  }
  return out + Columns(rows);
}

}  // namespace

int Stats(const GlobalOptions& global, const StatsOptions& options) {
  StatsQuery query;
  query.runbook = options.runbook;
  query.now = SystemEnv().Now();
  if (!options.since.empty()) {
    auto since = ParseSince(options.since, query.now);
    if (!since.ok()) return Fail(Status::Invalid("--since: " + since.message()));
    query.since = *since;
  }
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  auto report = ComputeStats(db->events(), query);
  if (!report.ok()) return Fail(report.status());
  if (options.json) {
    std::printf("%s\n", JsonOutput(StatsJson(*report)).c_str());
  } else {
    std::fputs(StatsText(*report).c_str(), stdout);
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
    std::printf("%s\n", JsonOutput(out).c_str());
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
  if (out == "-") {  // to stdout, for a pipe or a redirection
    std::fwrite(html->data(), 1, html->size(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitInvalid;
  }
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
  // A line at a time as the events are read: the log may be far larger than memory.
  std::string line;
  Status exported =
      ExportEvents(db->events(), run_id.empty() ? std::nullopt : std::optional<std::string>(run_id),
                   [&line](const EventRow& row) {
                     line.clear();
                     AppendEventJsonLine(row, &line);
                     std::fwrite(line.data(), 1, line.size(), stdout);
                     return Status::Ok();
                   });
  if (!exported.ok()) return Fail(exported);
  return kExitOk;
}

namespace {

// `runs`' filters (app/history.h RunQuery).
void AddRunsFilters(CLI::App* runs, RunsOptions& options) {
  runs->add_option("--limit", options.limit,
                   "list only the newest N runs that match (default: all)")
      ->check(CLI::NonNegativeNumber);
  runs->add_option("--runbook", options.runbook, "only runs of the runbook with this name");
  runs->add_option("--state", options.states,
                   "only runs that ended in this state: succeeded, aborted, rolled_back, "
                   "rollback_failed or unfinished (repeat it, or separate states by commas)")
      ->delimiter(',');
  runs->add_option("--since", options.since,
                   "only runs started since WHEN: an age (7d, 12h, 30m: that long ago), a UTC "
                   "date (2026-11-01) or time (2026-11-01T12:00:00Z)");
  runs->add_option("--operator", options.operator_name, "only runs by this operator");
}

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
                           "list runs, newest first: id, runbook, state, start, duration, operator, "
                           "exit code, failed hosts");
  AddRunsFilters(runs, args.runs);
  runs->add_flag("--json", args.runs.json,
                 "print a JSON array of {run_id, runbook, state, started, duration_ms, operator, "
                 "exit_code, plan_id, failed_hosts, ...}");
  AddAuditDbOption(runs, &global);
  runs->callback([&global, &args, &code] { code = Runs(global, args.runs); });

  CLI::App* stats = Command(app, "stats",
                            "deployment frequency, change failure rate, time to restore and "
                            "rollback duration, per runbook and environment, from the audit log "
                            "(docs/history.md)");
  stats->add_option("--since", args.stats.since,
                    "count runs started since WHEN: an age (7d, 12h: that long ago), a UTC "
                    "date (2026-11-01) or time (2026-11-01T12:00:00Z); default: all");
  stats->add_option("--runbook", args.stats.runbook, "count only the runs of this runbook");
  stats->add_flag("--json", args.stats.json, "print JSON");
  AddAuditDbOption(stats, &global);
  stats->callback([&global, &args, &code] { code = Stats(global, args.stats); });

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
  report->add_option("--out", args.report_out, "the HTML file to write; - for standard output")
      ->required();
  report->add_option("--template", args.report_template,
                     "render the report through this Mustache template instead of the "
                     "built-in one (docs/templates.md)");
  AddAuditDbOption(report, &global);
  report->callback([&global, &args, &code] {
    code = Report(global, args.report_id, args.report_out, args.report_template);
  });
}

}  // namespace runbook::cli
