#include "app/stats.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "app/maintenance_record.h"
#include "app/plan_history.h"
#include "audit/audit_time.h"
#include "engine/loader.h"

namespace runbook {
namespace {

// What `stats` needs to know of a recorded runbook version.
struct RunbookFacts {
  std::string environment;  // "" when none
  Duration rollback_target = kDefaultRollbackTarget;
};

// The facts of the runbook `run` ran, from its recorded text; the defaults when the text no
// longer loads (the figures must not depend on today's files).
RunbookFacts FactsOf(EventStore& log, const StoredRun& run) {
  RunbookFacts facts;
  auto full = log.GetRun(run.run_id);
  if (!full.ok()) return facts;
  const std::string dir = std::filesystem::path(full->runbook_path).parent_path().string();
  LoadResult loaded = LoadRunbookText(full->runbook_text, full->runbook_path,
                                      dir.empty() ? "." : dir);
  if (!loaded.ok()) return facts;
  facts.environment = loaded.runbook->environment;
  Duration target{0};
  if (!loaded.runbook->impact.rollback_time.empty() &&
      ParseDuration(loaded.runbook->impact.rollback_time, &target))
    facts.rollback_target = target;
  return facts;
}

// The times of one run's events that the figures are measured between.
struct RunMarks {
  bool changed = false;
  std::string first_failure;   // first step_failed in phase step or verify
  std::string first_rollback;  // first rollback_started
  std::string finished;        // run_finished
};

std::optional<long long> Between(const std::string& from, const std::string& to) {
  if (from.empty() || to.empty()) return std::nullopt;
  auto a = ParseAuditTime(from);
  auto b = ParseAuditTime(to);
  if (!a.ok() || !b.ok()) return std::nullopt;
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(*b - *a).count();
  return std::max(ms, 0LL);
}

// Adds one counted run to `stats`.
void Count(const StoredRun& run, const RunMarks& marks, const RunbookFacts& facts,
           DeployStats* stats) {
  if (run.dry_run) {
    ++stats->dry_runs;
    return;
  }
  ++stats->runs;
  if (!marks.changed) return;
  ++stats->changed;
  const bool rolled_back = run.state == "rolled_back";
  const bool rollback_failed = run.state == "rollback_failed";
  if (!rolled_back && !rollback_failed) return;
  ++stats->failed;
  ++(rolled_back ? stats->rolled_back : stats->rollback_failed);
  const std::string finished = marks.finished.empty() ? run.finished_at : marks.finished;
  const std::string failure = marks.first_failure.empty() ? marks.first_rollback : marks.first_failure;
  if (rolled_back) {
    if (auto ttr = Between(failure, finished)) stats->time_to_restore.values_ms.push_back(*ttr);
  }
  const std::string rollback = marks.first_rollback.empty() ? failure : marks.first_rollback;
  if (auto took = Between(rollback, finished)) {
    stats->rollback.values_ms.push_back(*took);
    if (*took > facts.rollback_target.count()) ++stats->rollbacks_over_target;
  }
}

void Sort(DeployStats* stats) {
  std::sort(stats->time_to_restore.values_ms.begin(), stats->time_to_restore.values_ms.end());
  std::sort(stats->rollback.values_ms.begin(), stats->rollback.values_ms.end());
}

nlohmann::ordered_json OrNull(const std::optional<long long>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// Rounded to 4 decimals, so that JSON shows 0.3333 rather than 0.33333333333333331.
double Round4(double v) { return std::round(v * 10000) / 10000; }

void FieldsJson(const DeployStats& s, nlohmann::ordered_json* j) {
  (*j)["runs"] = s.runs;
  (*j)["dry_runs"] = s.dry_runs;
  (*j)["changed"] = s.changed;
  (*j)["failed"] = s.failed;
  (*j)["rolled_back"] = s.rolled_back;
  (*j)["rollback_failed"] = s.rollback_failed;
  auto rate = s.change_failure_rate();
  (*j)["change_failure_rate"] = rate ? nlohmann::ordered_json(Round4(*rate)) : nullptr;
  (*j)["deployments_per_day"] = Round4(s.deployments_per_day());
  (*j)["deployments_per_week"] = Round4(s.deployments_per_week());
  (*j)["time_to_restore_ms"] = {{"median", OrNull(s.time_to_restore.median_ms())},
                                {"p90", OrNull(s.time_to_restore.p90_ms())},
                                {"count", s.time_to_restore.values_ms.size()}};
  (*j)["rollback_ms"] = {{"median", OrNull(s.rollback.median_ms())},
                         {"p90", OrNull(s.rollback.p90_ms())},
                         {"count", s.rollback.values_ms.size()},
                         {"within_target", s.rollbacks_within_target()},
                         {"over_target", s.rollbacks_over_target}};
}

}  // namespace

std::optional<long long> DurationSummary::Rank(int percent) const {
  if (values_ms.empty()) return std::nullopt;
  // Nearest rank: the ceil(p/100 * n)-th smallest value, counted from 1.
  const size_t n = values_ms.size();
  size_t rank = (static_cast<size_t>(percent) * n + 99) / 100;
  rank = std::clamp<size_t>(rank, 1, n);
  return values_ms[rank - 1];
}

std::optional<double> DeployStats::change_failure_rate() const {
  if (changed == 0) return std::nullopt;
  return static_cast<double>(failed) / changed;
}

Result<StatsReport> ComputeStats(EventStore& log, const StatsQuery& query) {
  auto runs = log.ListRuns();
  if (!runs.ok()) return runs.status();
  const std::string since = query.since ? FormatAuditTime(*query.since) : "";
  std::vector<StoredRun> counted;
  for (StoredRun& run : *runs) {
    if (IsMaintenanceRecord(run.runbook)) continue;  // a maintenance record, not a run
    if (!query.runbook.empty() && run.runbook != query.runbook) continue;
    if (run.started_at < since) continue;  // fixed-width UTC text: text order is time order
    counted.push_back(std::move(run));
  }

  auto events = log.EventsOfKinds({EventKind::kStepStarted, EventKind::kStepFailed,
                                   EventKind::kRollbackStarted, EventKind::kRunFinished});
  if (!events.ok()) return events.status();
  std::map<std::string, RunMarks> marks;
  for (const StoredEvent& e : *events) {
    RunMarks& m = marks[e.run_id];
    if (e.is(EventKind::kStepStarted) && e.phase == "step") m.changed = true;
    if (e.is(EventKind::kStepFailed) && (e.phase == "step" || e.phase == "verify") &&
        m.first_failure.empty())
      m.first_failure = e.ts;
    if (e.is(EventKind::kRollbackStarted) && m.first_rollback.empty()) m.first_rollback = e.ts;
    if (e.is(EventKind::kRunFinished)) m.finished = e.ts;
  }

  StatsReport report;
  report.until = FormatAuditTime(query.now);
  report.since = since;
  for (const StoredRun& run : counted) {
    if (report.since.empty() || run.started_at < report.since) report.since = run.started_at;
  }
  if (auto start = ParseAuditTime(report.since); start.ok() && !report.since.empty()) {
    const double days = std::chrono::duration<double, std::ratio<86400>>(query.now - *start).count();
    report.all.days = std::max(days, 1.0);
  }

  std::map<std::string, RunbookFacts> facts_by_version;  // by runbook_sha256
  std::map<std::pair<std::string, std::string>, DeployStats> groups;
  for (const StoredRun& run : counted) {
    auto known = facts_by_version.find(run.runbook_sha256);
    if (known == facts_by_version.end())
      known = facts_by_version.emplace(run.runbook_sha256, FactsOf(log, run)).first;
    const RunbookFacts& facts = known->second;
    const RunMarks& m = marks[run.run_id];
    Count(run, m, facts, &report.all);
    const std::string environment = facts.environment.empty() ? run.lock_key : facts.environment;
    DeployStats& group = groups[{run.runbook, environment}];
    group.days = report.all.days;
    Count(run, m, facts, &group);
  }
  Sort(&report.all);
  for (auto& [key, stats] : groups) {
    Sort(&stats);
    report.by_runbook.push_back({key.first, key.second, std::move(stats)});
  }
  return report;
}

nlohmann::ordered_json StatsJson(const StatsReport& report) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["since"] =
      report.since.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(report.since);
  j["until"] = report.until;
  j["days"] = Round4(report.all.days);
  FieldsJson(report.all, &j);
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (const RunbookStats& g : report.by_runbook) {
    nlohmann::ordered_json item = {{"runbook", g.runbook}, {"environment", g.environment}};
    FieldsJson(g.stats, &item);
    groups.push_back(std::move(item));
  }
  j["by_runbook"] = std::move(groups);
  return j;
}

}  // namespace runbook
