// `runbook stats` (SPEC §7, docs/history.md): how often a team deploys, how often a deploy
// fails, and how fast it is undone, computed from the audit log alone: the runs rows, and
// the step_started, step_failed, rollback_started and run_finished events.
//
// The definitions, exactly (docs/history.md says the same for readers):
// - counted runs: runs that are not dry runs, started at or after `since`, of `runbook`
//   when given. Dry runs change nothing and are counted apart (dry_runs); the records of
//   `plans prune` (app/plan_history.h) are not runs and are left out.
// - changed: counted runs with a step_started event in phase `step` (a step, not a precheck,
//   started): the deployments.
// - failed: changed runs that ended rolled_back or rollback_failed.
// - change failure rate: failed / changed (none when nothing changed).
// - deployments per day: changed / the days from `since` (or, without it, the first counted
//   run's start) to now, at least one day; per week is seven times that.
// - time to restore, of each run that ended rolled_back: its first failure (the first
//   step_failed in phase step or verify; without one, the first rollback_started) to its
//   run_finished event.
// - rollback duration, of each run that ended rolled_back or rollback_failed: its first
//   rollback_started (without one, its first failure) to its run_finished event. A rollback
//   is over target when it took longer than the runbook's `impact.rollback_time` as recorded
//   with the run (5m when it has none).
// - median and p90 are nearest-rank: the smallest value with at least 50% (90%) of the values
//   at or below it.
// - environment: the runbook's `environment:` as recorded with the run; when it has none, the
//   run's lock key.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/store.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

/// The rollback target of a runbook that declares no `impact.rollback_time`.
inline constexpr Duration kDefaultRollbackTarget = std::chrono::minutes(5);

/// Which runs `stats` counts.
struct StatsQuery {
  std::string runbook;  // only this runbook's runs; "" for all
  std::optional<std::chrono::system_clock::time_point> since;  // started at or after
  std::chrono::system_clock::time_point now;  // the end of the period
};

/// Durations in milliseconds, summarised.
struct DurationSummary {
  std::vector<long long> values_ms;  // ascending
  std::optional<long long> median_ms() const { return Rank(50); }
  std::optional<long long> p90_ms() const { return Rank(90); }
  /// The nearest-rank `percent` percentile; none when there are no values.
  std::optional<long long> Rank(int percent) const;
};

/// The figures of one set of runs (see the definitions above).
struct DeployStats {
  int runs = 0;
  int dry_runs = 0;
  int changed = 0;
  int failed = 0;
  int rolled_back = 0;
  int rollback_failed = 0;
  double days = 1;  // the period's length
  DurationSummary time_to_restore;
  DurationSummary rollback;
  int rollbacks_over_target = 0;

  /// failed / changed; none when nothing changed.
  std::optional<double> change_failure_rate() const;
  double deployments_per_day() const { return changed / days; }
  double deployments_per_week() const { return 7 * deployments_per_day(); }
  int rollbacks_within_target() const {
    return static_cast<int>(rollback.values_ms.size()) - rollbacks_over_target;
  }
};

/// One runbook in one environment.
struct RunbookStats {
  std::string runbook;
  std::string environment;
  DeployStats stats;
};

struct StatsReport {
  std::string since;  // RFC 3339 UTC: the period's start; "" when nothing was counted
  std::string until;  // RFC 3339 UTC: now
  DeployStats all;
  std::vector<RunbookStats> by_runbook;  // by runbook, then environment
};

/// Computes `stats` over the audit log `log`. Reads the runs, the events of four kinds, and
/// the recorded runbook text once per distinct runbook version.
Result<StatsReport> ComputeStats(EventStore& log, const StatsQuery& query);

/// `stats --json`: {"since", "until", "days", the DeployStats fields ("runs", "changed",
/// "failed", "change_failure_rate", "deployments_per_day", "time_to_restore_ms": {"median",
/// "p90", "count"}, "rollback_ms": {"median", "p90", "count", "within_target",
/// "over_target"}, ...), "by_runbook": [{"runbook", "environment", the same fields}]}.
nlohmann::ordered_json StatsJson(const StatsReport& report);

}  // namespace runbook
