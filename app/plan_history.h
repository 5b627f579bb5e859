// `plans`' filters and `plans prune` (SPEC §7, docs/history.md): which recorded plans a reader
// wants to see, and the removal of pending plans nobody used.
//
// Pruning marks plans, it does not delete them: a plan row's status becomes `pruned` (the one
// column of a plan that may change, so the PostgreSQL store's append-only triggers allow it,
// audit/pg_append_only.cc), and a pruned plan can no longer be approved or run. The pruning is
// recorded in the hash chain first, as a maintenance record: a run row named "(plans prune)"
// (a name no runbook can have) whose events are run_started, plans_pruned (every plan it
// marks, with its hash) and run_finished. `runs` lists the record; `stats` leaves it out.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app/plans.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

/// The runbook name of the run row that records a `plans prune`.
inline constexpr char kPlansPruneRecord[] = "(plans prune)";

/// Which plans `plans` lists: every field left at its default matches every plan.
struct PlanQuery {
  std::string runbook;                // the runbook's name, exactly
  std::vector<std::string> statuses;  // any of these (PlanView::status() or the stored one)
  std::optional<std::chrono::system_clock::time_point> since;  // created at or after
  std::string requested_by;           // exactly
  int limit = 0;                      // the newest `limit` that match; 0: all

  bool Matches(const PlanView& view) const;
};

/// The plans of `all` (oldest first, as PlanService::List gives them) that `query` selects,
/// newest first.
std::vector<PlanView> FilterPlans(std::vector<PlanView> all, const PlanQuery& query);

struct PruneRequest {
  Duration older_than{0};     // prune plans created longer ago than this
  bool dry_run = false;       // say what would be pruned; record and change nothing
  std::string operator_name;  // who prunes, for the record
};

struct PruneOutcome {
  std::string cutoff;              // RFC 3339 UTC: plans created before this were old enough
  std::vector<PlanRecord> pruned;  // (dry run: would be) marked pruned, oldest first
  std::string record_run_id;       // the maintenance record's run id; "" for a dry run or none
};

/// Marks `pruned` every plan whose stored status is pending, created before now -
/// older_than, that no run names (not even a dry or failed run), after recording them in the
/// hash chain. Nothing to prune records nothing. An error from the store stops it: the
/// record then ends `aborted`, naming the plan it could not mark.
Result<PruneOutcome> PrunePlans(AuditStore& db, const Environment& env, const PruneRequest& request);

/// Ends the record of a `plans prune` whose process died before it finished (`recover`):
/// run_finished `aborted`, saying that the plans it names may or may not have been marked
/// (`plans --status pruned` tells which were).
Status EndInterruptedPrune(AuditStore& db, const Environment& env, const std::string& run_id);

}  // namespace runbook
