#include "app/migrate.h"

#include "audit/pg_connection.h"
#include "audit/pg_store.h"

namespace runbook {

Result<MigrateReport> MigrateAuditLog(AuditStore& from, const std::string& to_url) {
  if (!IsPostgresUrl(to_url))
    return Status::Invalid("--to takes a postgresql:// URL, got '" + RedactPostgresUrl(to_url) + "'");
  auto source = from.events().Verify();
  if (!source.ok()) return source.status();
  if (!source->ok) {
    return Status::Refused("the log at " + from.location() + " does not verify (" +
                           source->problem + "); not copying a broken chain");
  }
  auto opened = PgAuditDatabase::Open(to_url);
  if (!opened.ok()) return opened.status();
  PgAuditDatabase& to = **opened;
  MigrateReport report;
  report.to = to.url();

  auto there_runs = to.events().ListRuns();
  auto there_plans = to.plans().ListPlans();
  if (!there_runs.ok()) return there_runs.status();
  if (!there_plans.ok()) return there_plans.status();
  if (!there_runs->empty() || !there_plans->empty()) {
    return Status::Refused(report.to + " already holds " + std::to_string(there_runs->size()) +
                           " runs and " + std::to_string(there_plans->size()) +
                           " plans; migrate copies into an empty store only, so that two "
                           "chains are never mixed");
  }

  auto runs = from.events().ListRuns();
  if (!runs.ok()) return runs.status();
  for (const StoredRun& listed : *runs) {
    auto run = from.events().GetRun(listed.run_id);  // with its runbook text
    if (!run.ok()) return run.status();
    if (Status s = to.events().CopyRun(*run); !s.ok())
      return s.WithContext("copying run " + listed.run_id);
    ++report.runs;
  }
  auto events = from.events().Events();
  if (!events.ok()) return events.status();
  for (const StoredEvent& event : *events) {
    if (Status s = to.events().CopyEvent(event); !s.ok())
      return s.WithContext("copying event " + std::to_string(event.seq));
    ++report.events;
  }
  auto plans = from.plans().ListPlans();
  if (!plans.ok()) return plans.status();
  for (const PlanRecord& plan : *plans) {
    if (Status s = to.plans().SavePlan(plan); !s.ok())
      return s.WithContext("copying plan " + plan.plan_id);
    ++report.plans;
    auto approvals = from.plans().Approvals(plan.plan_id);
    if (!approvals.ok()) return approvals.status();
    for (const ApprovalRecord& a : *approvals) {
      if (Status s = to.plans().AddApproval(a); !s.ok())
        return s.WithContext("copying an approval of plan " + plan.plan_id);
      ++report.approvals;
    }
  }
  auto verified = to.events().Verify();
  if (!verified.ok()) return verified.status();
  report.verified = *verified;
  return report;
}

}  // namespace runbook
