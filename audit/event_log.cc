#include "audit/event_log.h"

#include "audit/chain_verify.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "audit/audit_time.h"
#include "audit/audit_writer.h"
#include "audit/chain_append.h"
#include "audit/event_row.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

constexpr const char* kEventColumns =
    "seq, run_id, ts, event, phase, step, from_state, to_state, attempt, detail, prev_hash, hash";

// The row `st` stands on, selected with kEventColumns; valid until it steps again.
EventRow RowOf(const Statement& st) {
  EventRow row;
  row.seq = st.Int(0);
  row.run_id = st.TextView(1);
  row.ts = st.TextView(2);
  row.event = st.TextView(3);
  row.phase = st.TextView(4);
  row.step = st.TextView(5);
  row.from = st.TextView(6);
  row.to = st.TextView(7);
  // Its type first: reading it as a number must not be what decides it.
  row.attempt_is_integer = st.IsInteger(8);
  row.attempt = static_cast<int>(st.Int(8));
  row.detail = st.TextView(9);
  row.prev_hash = st.TextView(10);
  row.hash = st.TextView(11);
  return row;
}

// Every row of `st`, selected with kEventColumns.
Result<std::vector<StoredEvent>> ReadEvents(Statement& st) {
  std::vector<StoredEvent> events;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) return events;
    bool detail_ok = true;
    events.push_back(ToStoredEvent(RowOf(st), &detail_ok));
  }
}

// A damaged file is a failed verification; any other error (busy, I/O) is passed on, so that a
// database that is merely locked is never reported as tampered.
Result<VerifyReport> FailedRead(const Status& s) {
  if (!s.IsCorruption()) return s;
  ChainVerifier verifier;
  verifier.Fail(s.message());
  return verifier.Report();
}

// PRAGMA quick_check on `db`: "ok" when the file is sound, else the first thing it found.
Result<std::string> QuickCheck(SqliteDb& db) {
  Statement check(db, "PRAGMA quick_check");
  Result<bool> row = check.Step();
  if (!row.ok()) return row.status();
  return *row ? check.Text(0) : std::string("ok");
}

// QuickCheck of the file `db` has open, started in a thread of its own with a connection of its
// own. Invalid when no thread could be started; nullopt from it when no second connection
// could be opened. In either case the caller checks on its own connection.
std::future<std::optional<Result<std::string>>> StartQuickCheck(const SqliteDb& db) {
  auto check = [path = db.path(),
                timeout = db.busy_timeout()]() -> std::optional<Result<std::string>> {
    Result<std::unique_ptr<SqliteDb>> own = SqliteDb::OpenForReading(path);
    if (!own.ok()) return std::nullopt;
    (*own)->SetBusyTimeout(timeout);
    return QuickCheck(**own);
  };
  try {
    return std::async(std::launch::async, check);
  } catch (const std::system_error&) {
    return {};
  }
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

Status EventLog::VisitRuns(const std::string& where, const std::string& arg, bool with_text,
                           const std::function<Status(StoredRun&&)>& visit) {
  // Sorting carries every selected column along, and the runbook texts of thousands of runs
  // are tens of MB: the rows are sorted without them, and each text is read after, by rowid.
  std::string sql = std::string("SELECT run_id, runbook, runbook_path, rowid, ") +
                    "runbook_sha256, params, operator, host, pid, lock_key, plan_id, dry_run, "
                    "started_at, finished_at, state, exit_code FROM runs " +
                    where + " ORDER BY started_at, rowid";
  Statement st(db_, sql);
  if (!arg.empty()) st.Bind(1, arg);
  std::optional<Statement> text;
  if (with_text) text.emplace(db_, "SELECT runbook_text FROM runs WHERE rowid = ?");
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    StoredRun r;
    r.run_id = st.Text(0);
    r.runbook = st.Text(1);
    r.runbook_path = st.Text(2);
    if (text) {
      text->Reset();
      text->Bind(1, st.Int(3));
      Result<bool> found = text->Step();
      if (!found.ok()) return found.status();
      if (*found) r.runbook_text = text->Text(0);
    }
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
    if (Status s = visit(std::move(r)); !s.ok()) return s;
  }
}

Result<std::vector<StoredRun>> EventLog::QueryRuns(const std::string& where, const std::string& arg,
                                                   bool with_text) {
  std::vector<StoredRun> runs;
  Status s = VisitRuns(where, arg, with_text, [&](StoredRun&& run) {
    runs.push_back(std::move(run));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return runs;
}

Result<std::vector<StoredRun>> EventLog::ListRuns() {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryRuns("", "", /*with_text=*/false);
}

Result<std::vector<StoredRun>> EventLog::NewestRuns(int limit, const std::string& exclude_runbook) {
  std::lock_guard<std::mutex> lock(mu_);
  // runbook != '' holds for every run: an empty name leaves none out.
  return QueryRuns("WHERE rowid IN (SELECT rowid FROM runs WHERE runbook != ? ORDER BY "
                   "started_at DESC, rowid DESC LIMIT " +
                       std::to_string(std::max(limit, 0)) + ")",
                   exclude_runbook.empty() ? std::string("\x01") : exclude_runbook,
                   /*with_text=*/false);
}

Result<std::vector<StoredRun>> EventLog::RunsOfPlan(const std::string& plan_id) {
  if (plan_id.empty()) return std::vector<StoredRun>{};
  std::lock_guard<std::mutex> lock(mu_);
  return QueryRuns("WHERE plan_id = ?", plan_id, /*with_text=*/false);
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

Status EventLog::ForEachEventRow(const std::optional<std::string>& run_id,
                                 const std::function<Status(const EventRow&)>& visit) {
  std::lock_guard<std::mutex> lock(mu_);
  // One statement: it reads one snapshot, a row at a time.
  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events" +
                        (run_id ? " WHERE run_id = ?" : "") + " ORDER BY seq");
  if (run_id) st.Bind(1, *run_id);
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    if (Status s = visit(RowOf(st)); !s.ok()) return s;
  }
}

Result<std::vector<StoredEvent>> EventLog::EventsOfKinds(
    const std::vector<EventKind>& kinds, const std::optional<std::vector<std::string>>& run_ids) {
  if (kinds.empty() || (run_ids && run_ids->empty())) return std::vector<StoredEvent>{};
  std::lock_guard<std::mutex> lock(mu_);
  auto placeholders = [](size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
    return out;
  };
  const std::string kind_list = placeholders(kinds.size());
  auto read = [&](const std::string* ids, size_t id_count) -> Result<std::vector<StoredEvent>> {
    Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events WHERE event IN (" +
                          kind_list + ")" +
                          (ids ? " AND run_id IN (" + placeholders(id_count) + ")" : "") +
                          " ORDER BY seq");
    int column = 0;
    for (EventKind kind : kinds) st.Bind(++column, EventName(kind));
    for (size_t i = 0; ids && i < id_count; ++i) st.Bind(++column, ids[i]);
    return ReadEvents(st);
  };
  if (!run_ids) return read(nullptr, 0);
  // The runs a few hundred at a time (SQLite binds at most 32,766 values), merged by seq.
  constexpr size_t kRunsPerQuery = 500;
  std::vector<StoredEvent> events;
  for (size_t first = 0; first < run_ids->size(); first += kRunsPerQuery) {
    auto part = read(run_ids->data() + first, std::min(kRunsPerQuery, run_ids->size() - first));
    if (!part.ok()) return part.status();
    for (StoredEvent& e : *part) events.push_back(std::move(e));
  }
  if (run_ids->size() > kRunsPerQuery)
    std::sort(events.begin(), events.end(),
              [](const StoredEvent& a, const StoredEvent& b) { return a.seq < b.seq; });
  return events;
}

Result<VerifyReport> EventLog::Verify() {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_, Transaction::Kind::kRead);
  if (!tx.status().ok()) return FailedRead(tx.status());
  // PRAGMA quick_check (the file is sound) reads every page once more, for about as long as
  // the scan of the chain takes: it runs beside the scan, and its outcome counts first, as
  // if it had run first. It may see a snapshot a moment younger than the scan's; soundness is
  // the file's, not a snapshot's.
  std::future<std::optional<Result<std::string>>> beside = StartQuickCheck(db_);
  Result<VerifyReport> chain = VerifyChain();
  std::optional<Result<std::string>> sound;
  if (beside.valid()) sound = beside.get();
  if (!sound) sound = QuickCheck(db_);  // no thread or no second connection: here, after all
  if (!sound->ok()) return FailedRead(sound->status());
  if (**sound != "ok")
    return FailedRead(
        Status::Corruption("audit database " + db_.path() + " is corrupt: " + **sound));
  return chain;
}

Result<VerifyReport> EventLog::VerifyChain() {
  ChainVerifier verifier;
  // A damaged file is a failed verification; any other error (busy, I/O) is passed on, so
  // that a database that is merely locked is never reported as tampered.
  auto read_error = [&](const Status& s) -> Result<VerifyReport> {
    if (!s.IsCorruption()) return s;
    verifier.Fail(s.message());
    return verifier.Report();
  };
  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events ORDER BY seq");
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return read_error(row.status());
    if (!*row) break;
    if (!verifier.AddRow(RowOf(st))) return verifier.Report();
  }
  Result<ChainHead> head = ReadMetaHead(db_);
  if (!head.ok()) return read_error(head.status());
  if (!verifier.CheckHead(*head)) return verifier.Report();
  // One runs row at a time: their runbook texts need not all be in memory at once.
  Status runs = VisitRuns("", "", /*with_text=*/true, [&](StoredRun&& run) {
    return verifier.CheckRun(run) ? Status::Ok() : Status::Refused("");
  });
  if (!runs.ok() && !verifier.failed()) return read_error(runs);
  return verifier.Report();
}

}  // namespace runbook
