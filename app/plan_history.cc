#include "app/plan_history.h"

#include <algorithm>
#include <set>

#include "app/maintenance_record.h"
#include "audit/audit_time.h"
#include "engine/events.h"
#include "engine/loader.h"

namespace runbook {

bool PlanQuery::Matches(const PlanView& view) const {
  const PlanRecord& p = view.plan;
  if (!runbook.empty() && p.runbook != runbook) return false;
  if (!requested_by.empty() && p.requested_by != requested_by) return false;
  if (!statuses.empty()) {
    const std::string now = view.status();
    if (std::find(statuses.begin(), statuses.end(), now) == statuses.end() &&
        std::find(statuses.begin(), statuses.end(), p.status) == statuses.end())
      return false;
  }
  // Fixed-width RFC 3339 UTC text: text order is time order.
  if (since && p.created_at < FormatAuditTime(*since)) return false;
  return true;
}

std::vector<PlanView> FilterPlans(std::vector<PlanView> all, const PlanQuery& query) {
  std::vector<PlanView> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (query.limit > 0 && static_cast<int>(out.size()) >= query.limit) break;
    if (query.Matches(*it)) out.push_back(std::move(*it));
  }
  return out;
}

Status EndInterruptedPrune(AuditStore& db, const Environment& env, const std::string& run_id) {
  return EndMaintenanceRecord(db, env, run_id, "aborted",
                              "the prune was interrupted; the plans it names may or may not be "
                              "marked pruned (see `runbook plans --status pruned`)")
      .WithContext("cannot end the `plans prune` record " + run_id);
}

Result<PruneOutcome> PrunePlans(AuditStore& db, const Environment& env,
                                const PruneRequest& request) {
  if (request.older_than.count() <= 0)
    return Status::Invalid("--older-than must be longer than nothing, e.g. 30d");
  PruneOutcome out;
  out.cutoff = FormatAuditTime(env.Now() - request.older_than);
  auto plans = db.plans().ListPlans();
  if (!plans.ok()) return plans.status();
  auto runs = db.events().ListRuns();
  if (!runs.ok()) return runs.status();
  std::set<std::string> used;
  for (const StoredRun& r : *runs)
    if (!r.plan_id.empty()) used.insert(r.plan_id);
  for (PlanRecord& p : *plans) {
    if (p.status == "pending" && p.created_at < out.cutoff && !used.count(p.plan_id))
      out.pruned.push_back(std::move(p));
  }
  if (request.dry_run || out.pruned.empty()) return out;

  // The record first, then the change: a prune cut short leaves a record of what it meant to
  // do, never a change without one.
  auto record_id = BeginMaintenanceRecord(db, env, kPlansPruneRecord, request.operator_name);
  if (!record_id.ok()) return record_id.status().WithContext("cannot record the prune");
  out.record_run_id = *record_id;
  nlohmann::json list = nlohmann::json::array();
  for (const PlanRecord& p : out.pruned)
    list.push_back({{"plan_id", p.plan_id},
                    {"hash", p.hash},
                    {"runbook", p.runbook},
                    {"requested_by", p.requested_by},
                    {"created_at", p.created_at}});
  if (Status s = AppendRecordEvent(db, env, out.record_run_id, EventKind::kPlansPruned,
                        {{"older_than", FormatDuration(request.older_than)},
                         {"cutoff", out.cutoff},
                         {"plans", list}});
      !s.ok())
    return s.WithContext("cannot record the prune");

  Status failed = Status::Ok();
  for (const PlanRecord& p : out.pruned) {
    failed = db.plans().SetPlanStatus(p.plan_id, kPlanPruned);
    if (!failed.ok()) {
      failed = failed.WithContext("cannot mark plan " + p.plan_id + " pruned");
      break;
    }
  }
  Status end = EndMaintenanceRecord(db, env, out.record_run_id,
                                    failed.ok() ? "succeeded" : "aborted",
                                    failed.ok() ? "" : failed.message());
  if (!failed.ok()) return failed;
  if (!end.ok()) return end.WithContext("the plans are pruned, but the record could not be ended");
  return out;
}

}  // namespace runbook
