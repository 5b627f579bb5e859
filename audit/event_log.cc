#include "audit/event_log.h"

#include "audit/chain_verify.h"

#include <map>
#include <utility>

#include "audit/audit_time.h"
#include "audit/audit_writer.h"
#include "audit/chain_append.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

constexpr const char* kEventColumns =
    "seq, run_id, ts, event, phase, step, from_state, to_state, attempt, detail, prev_hash, hash";

// Reads a row selected with kEventColumns. `detail_ok` says whether the detail column held
// valid JSON; when not, detail holds the raw text as a JSON string so that nothing is lost.
StoredEvent ReadEvent(const Statement& row, bool* detail_ok) {
  StoredEvent e;
  e.seq = row.Int(0);
  e.run_id = row.Text(1);
  e.ts = row.Text(2);
  e.event = row.Text(3);
  e.phase = row.Text(4);
  e.step = row.Text(5);
  e.from = row.Text(6);
  e.to = row.Text(7);
  e.attempt = static_cast<int>(row.Int(8));
  std::string detail = row.Text(9);
  std::optional<nlohmann::json> parsed = ParseStoredJson(detail);
  *detail_ok = parsed.has_value();
  e.detail = parsed ? std::move(*parsed) : nlohmann::json(detail);
  e.prev_hash = row.Text(10);
  e.hash = row.Text(11);
  return e;
}

// Every row of `st`, selected with kEventColumns.
Result<std::vector<StoredEvent>> ReadEvents(Statement& st) {
  std::vector<StoredEvent> events;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    bool detail_ok = true;
    events.push_back(ReadEvent(st, &detail_ok));
  }
  return events;
}

}  // namespace

Status EventLog::BeginRun(const RunRecord& run) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string context = "cannot record the start of run " + run.run_id;
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status().WithContext(context);
  Statement exists(db_, "SELECT 1 FROM runs WHERE run_id = ?");
  exists.Bind(1, run.run_id);
  Result<bool> row = exists.Step();
  if (!row.ok()) return row.status().WithContext(context);
  if (*row) return Status::Error(context + ": a run with this id already exists");
  Statement insert(db_,
                   "INSERT INTO runs(run_id, runbook, runbook_path, runbook_text, runbook_sha256, "
                   "params, operator, host, pid, lock_key, plan_id, dry_run, started_at) "
                   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, run.run_id);
  insert.Bind(2, run.runbook);
  insert.Bind(3, run.runbook_path);
  insert.Bind(4, run.runbook_text);
  // The text is what was run; its hash is derived here when the caller left it out.
  insert.Bind(5, run.runbook_sha256.empty() ? Sha256Hex(run.runbook_text) : run.runbook_sha256);
  insert.Bind(6, CanonicalJson(run.params));
  insert.Bind(7, run.operator_name);
  insert.Bind(8, run.host);
  insert.Bind(9, static_cast<int64_t>(run.pid));
  insert.Bind(10, run.lock_key);
  insert.BindOrNull(11, run.plan_id);
  insert.Bind(12, static_cast<int64_t>(run.dry_run ? 1 : 0));
  insert.Bind(13, FormatAuditTime(run.started_at));
  if (Status s = insert.Run(); !s.ok()) return s.WithContext(context);
  return tx.Commit().WithContext(context);
}

Status EventLog::Append(const std::string& run_id, const AuditEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  const AuditRecord record = EventRecord(run_id, event);
  Result<AuditWriter::Outcome> written = writer_.Write(record);
  return written.status().WithContext("cannot record event " + record.event.event + " of run " +
                                      run_id);
}

Status EventLog::Queue(const std::string& run_id, const AuditEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  writer_.Queue(EventRecord(run_id, event));
  return Status::Ok();
}

Status EventLog::Sync(int* not_durable) {
  std::lock_guard<std::mutex> lock(mu_);
  AuditWriter::Fate fate = writer_.Sync();
  if (not_durable) *not_durable = fate.not_durable;
  return fate.status.WithContext("cannot record the run's events");
}

Status EventLog::EndRun(const std::string& run_id, const std::string& state, int exit_code,
                        std::chrono::system_clock::time_point finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<AuditWriter::Outcome> written =
      writer_.Write(RunEndRecord(run_id, state, exit_code, finished_at));
  return written.status().WithContext("cannot record the end of run " + run_id);
}

AuditBacklog EventLog::Backlog(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.Backlog(run_id);
}

Result<std::vector<StoredRun>> EventLog::QueryRuns(const std::string& where, const std::string& arg,
                                                   bool with_text) {
  std::string sql = std::string("SELECT run_id, runbook, runbook_path, ") +
                    (with_text ? "runbook_text" : "''") +
                    ", runbook_sha256, params, operator, host, pid, lock_key, plan_id, dry_run, "
                    "started_at, finished_at, state, exit_code FROM runs " +
                    where + " ORDER BY started_at, rowid";
  Statement st(db_, sql);
  if (!arg.empty()) st.Bind(1, arg);
  std::vector<StoredRun> runs;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    StoredRun r;
    r.run_id = st.Text(0);
    r.runbook = st.Text(1);
    r.runbook_path = st.Text(2);
    r.runbook_text = st.Text(3);
    r.runbook_sha256 = st.Text(4);
    r.params = ParseStoredJson(st.Text(5)).value_or(nlohmann::json(st.Text(5)));
    r.operator_name = st.Text(6);
    r.host = st.Text(7);
    r.pid = static_cast<int>(st.Int(8));
    r.lock_key = st.Text(9);
    r.plan_id = st.Text(10);
    r.dry_run = st.Int(11) != 0;
    r.started_at = st.Text(12);
    r.finished_at = st.Text(13);
    r.state = st.Text(14);
    if (!st.IsNull(15)) r.exit_code = static_cast<int>(st.Int(15));
    runs.push_back(std::move(r));
  }
  return runs;
}

Result<std::vector<StoredRun>> EventLog::ListRuns() {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryRuns("", "", /*with_text=*/false);
}

Result<StoredRun> EventLog::GetRun(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (run_id.empty()) return Status::NotFound("unknown run ''");
  Result<std::vector<StoredRun>> runs = QueryRuns("WHERE run_id = ?", run_id, /*with_text=*/true);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) return Status::NotFound("unknown run '" + run_id + "'");
  return std::move(runs->front());
}

Result<std::vector<StoredRun>> EventLog::LastRunningRuns() {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryRuns("WHERE state IS NULL AND finished_at IS NULL", "", /*with_text=*/true);
}

Result<std::vector<StoredEvent>> EventLog::Events(const std::optional<std::string>& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events" +
                        (run_id ? " WHERE run_id = ?" : "") + " ORDER BY seq");
  if (run_id) st.Bind(1, *run_id);
  return ReadEvents(st);
}

Result<std::vector<StoredEvent>> EventLog::EventsOfKinds(const std::vector<EventKind>& kinds) {
  if (kinds.empty()) return std::vector<StoredEvent>{};
  std::lock_guard<std::mutex> lock(mu_);
  std::string placeholders;
  for (size_t i = 0; i < kinds.size(); ++i) placeholders += i == 0 ? "?" : ", ?";
  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events WHERE event IN (" +
                        placeholders + ") ORDER BY seq");
  for (size_t i = 0; i < kinds.size(); ++i) st.Bind(static_cast<int>(i + 1), EventName(kinds[i]));
  return ReadEvents(st);
}

Result<VerifyReport> EventLog::Verify() {
  std::lock_guard<std::mutex> lock(mu_);
  ChainVerifier verifier;
  // A damaged file is a failed verification; any other error (busy, I/O) is passed on, so
  // that a database that is merely locked is never reported as tampered.
  auto read_error = [&](const Status& s) -> Result<VerifyReport> {
    if (!s.IsCorruption()) return s;
    verifier.Fail(s.message());
    return verifier.Report();
  };

  Transaction tx(db_, Transaction::Kind::kRead);
  if (!tx.status().ok()) return read_error(tx.status());
  Statement check(db_, "PRAGMA quick_check");
  Result<bool> row = check.Step();
  if (!row.ok()) return read_error(row.status());
  if (*row && check.Text(0) != "ok") {
    verifier.Fail("audit database " + db_.path() + " is corrupt: " + check.Text(0));
    return verifier.Report();
  }

  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events ORDER BY seq");
  for (;;) {
    row = st.Step();
    if (!row.ok()) return read_error(row.status());
    if (!*row) break;
    bool detail_ok = true;
    StoredEvent e = ReadEvent(st, &detail_ok);
    if (!verifier.AddEvent(e, detail_ok, st.Text(9), st.IsInteger(8))) return verifier.Report();
  }
  Result<ChainHead> head = ReadMetaHead(db_);
  if (!head.ok()) return read_error(head.status());
  if (!verifier.CheckHead(*head)) return verifier.Report();
  auto runs = QueryRuns("", "", /*with_text=*/true);
  if (!runs.ok()) return read_error(runs.status());
  for (const StoredRun& run : *runs)
    if (!verifier.CheckRun(run)) return verifier.Report();
  return verifier.Report();
}

}  // namespace runbook
