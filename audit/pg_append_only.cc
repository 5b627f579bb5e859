#include "audit/pg_append_only.h"

#include "audit/pg_connection.h"

namespace runbook {

namespace {

// The rules of pg_append_only.h. Each function compares rows as jsonb, so that a column a
// later schema version adds is covered without a change here. EXECUTE PROCEDURE rather than
// EXECUTE FUNCTION, and DROP + CREATE rather than CREATE OR REPLACE TRIGGER: PostgreSQL 10.
constexpr const char* kTriggers = R"sql(
CREATE OR REPLACE FUNCTION runbook_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is refused (%)',
    TG_OP, TG_TABLE_NAME, TG_ARGV[0] USING ERRCODE = 'RB001';
END
$$;
CREATE OR REPLACE FUNCTION runbook_end_run_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- The same end written twice (a COMMIT whose answer was lost, sent again) changes nothing.
    IF to_jsonb(NEW) = to_jsonb(OLD) THEN
      RETURN NEW;
    END IF;
    IF OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL
       AND to_jsonb(NEW) - 'state' - 'exit_code' - 'finished_at'
         = to_jsonb(OLD) - 'state' - 'exit_code' - 'finished_at' THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % on runs is refused (a run''s row only gets '
    'its end once: state, exit_code and finished_at of a run that has not ended)', TG_OP
    USING ERRCODE = 'RB001';
END
$$;
CREATE OR REPLACE FUNCTION runbook_plan_status_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND to_jsonb(NEW) - 'status' = to_jsonb(OLD) - 'status' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % on plans is refused (a plan only changes '
    'its status)', TG_OP USING ERRCODE = 'RB001';
END
$$;
DROP TRIGGER IF EXISTS runbook_append_only ON events;
CREATE TRIGGER runbook_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE PROCEDURE runbook_refuse_change('events are only ever added');
DROP TRIGGER IF EXISTS runbook_no_truncate ON events;
CREATE TRIGGER runbook_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE PROCEDURE runbook_refuse_change('events are only ever added');
DROP TRIGGER IF EXISTS runbook_append_only ON approvals;
CREATE TRIGGER runbook_append_only BEFORE UPDATE OR DELETE ON approvals
  FOR EACH ROW EXECUTE PROCEDURE runbook_refuse_change('approvals are only ever added');
DROP TRIGGER IF EXISTS runbook_no_truncate ON approvals;
CREATE TRIGGER runbook_no_truncate BEFORE TRUNCATE ON approvals
  FOR EACH STATEMENT EXECUTE PROCEDURE runbook_refuse_change('approvals are only ever added');
DROP TRIGGER IF EXISTS runbook_append_only ON runs;
CREATE TRIGGER runbook_append_only BEFORE UPDATE OR DELETE ON runs
  FOR EACH ROW EXECUTE PROCEDURE runbook_end_run_once();
DROP TRIGGER IF EXISTS runbook_no_truncate ON runs;
CREATE TRIGGER runbook_no_truncate BEFORE TRUNCATE ON runs
  FOR EACH STATEMENT
  EXECUTE PROCEDURE runbook_refuse_change('runs are only ever added, then ended once');
DROP TRIGGER IF EXISTS runbook_append_only ON plans;
CREATE TRIGGER runbook_append_only BEFORE UPDATE OR DELETE ON plans
  FOR EACH ROW EXECUTE PROCEDURE runbook_plan_status_only();
DROP TRIGGER IF EXISTS runbook_no_truncate ON plans;
CREATE TRIGGER runbook_no_truncate BEFORE TRUNCATE ON plans
  FOR EACH STATEMENT
  EXECUTE PROCEDURE runbook_refuse_change('plans are only ever added, then change only '
    'their status');
)sql";

// How many of the triggers above exist (all: 8), and whether this session may create them:
// it has its tables' owner's rights and may create functions in the schema.
constexpr const char* kTriggerState = R"sql(
SELECT
  (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relname IN ('events', 'approvals', 'runs', 'plans')
     AND t.tgname IN ('runbook_append_only', 'runbook_no_truncate')),
  (SELECT coalesce(bool_and(pg_has_role(c.relowner, 'USAGE')), false) FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relname IN ('events', 'approvals', 'runs', 'plans'))
  AND has_schema_privilege(current_schema(), 'CREATE')
)sql";

constexpr int kTriggerCount = 8;

}  // namespace

Status EnsureAppendOnlyTriggers(PgConnection& conn) {
  Result<PgRows> state = conn.Exec(kTriggerState);
  if (!state.ok()) return state.status();
  if (state->Int(0, 0) == kTriggerCount || !state->Bool(0, 1)) return Status::Ok();
  return conn.ExecScript(kTriggers);
}

}  // namespace runbook
