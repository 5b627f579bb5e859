#include "audit/event_log.h"

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
  AuditRecord record;
  record.kind = AuditRecord::Kind::kEvent;
  record.run_id = run_id;
  record.event.run_id = run_id;
  record.event.ts = FormatAuditTime(event.ts);
  record.event.event = std::string(EventName(event.event));
  record.event.phase = event.phase;
  record.event.step = event.step;
  record.event.from = event.from;
  record.event.to = event.to;
  record.event.attempt = event.attempt;
  record.event.detail = event.detail;
  Result<AuditWriter::Outcome> written = writer_.Write(record);
  return written.status().WithContext("cannot record event " + record.event.event + " of run " +
                                      run_id);
}

Status EventLog::EndRun(const std::string& run_id, const std::string& state, int exit_code,
                        std::chrono::system_clock::time_point finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  AuditRecord record;
  record.kind = AuditRecord::Kind::kRunEnd;
  record.run_id = run_id;
  record.state = state;
  record.exit_code = exit_code;
  record.finished_at = FormatAuditTime(finished_at);
  Result<AuditWriter::Outcome> written = writer_.Write(record);
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

namespace {

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// Which column of a runs row differs from what its run_started event recorded ("" if none).
/// The row's runbook text is checked through its sha256, which run_started carries since
/// the runs row joined the chain (older logs: only the columns run_started has).
std::string RunRowProblem(const StoredRun& run, const nlohmann::json& started) {
  if (!started.is_object()) return "row";
  // Each column that run_started recorded (the executor records them all).
  auto differs = [&](const char* key, const std::string& column) {
    return started.contains(key) && JsonString(started, key) != column;
  };
  if (differs("runbook", run.runbook)) return "runbook name";
  if (differs("operator", run.operator_name)) return "operator";
  if (differs("host", run.host)) return "host";
  if (started.contains("pid") && started.value("pid", 0) != run.pid) return "pid";
  if (started.contains("dry_run") && started.value("dry_run", false) != run.dry_run)
    return "dry_run";
  if (differs("plan_id", run.plan_id)) return "plan_id";
  if (differs("lock", run.lock_key)) return "lock";
  if (started.contains("params") && started["params"] != run.params) return "params";
  if (started.contains("runbook_sha256")) {
    const std::string sha = JsonString(started, "runbook_sha256");
    if (run.runbook_sha256 != sha) return "runbook_sha256";
    if (Sha256Hex(run.runbook_text) != sha) return "runbook text";
  }
  return "";
}

}  // namespace

Result<VerifyReport> EventLog::Verify() {
  std::lock_guard<std::mutex> lock(mu_);
  VerifyReport report;
  auto fail = [&](int64_t seq, std::string problem) {
    report.ok = false;
    report.bad_seq = seq;
    report.problem = std::move(problem);
    report.head_seq = 0;
    report.head_hash.clear();
    return report;
  };
  // A damaged file is a failed verification; any other error (busy, I/O) is passed on, so
  // that a database that is merely locked is never reported as tampered.
  auto read_error = [&](const Status& s) -> Result<VerifyReport> {
    if (s.IsCorruption()) return fail(0, s.message());
    return s;
  };

  Transaction tx(db_, Transaction::Kind::kRead);
  if (!tx.status().ok()) return read_error(tx.status());
  Statement check(db_, "PRAGMA quick_check");
  Result<bool> row = check.Step();
  if (!row.ok()) return read_error(row.status());
  if (*row && check.Text(0) != "ok") {
    return fail(0, "audit database " + db_.path() + " is corrupt: " + check.Text(0));
  }

  Statement st(db_, std::string("SELECT ") + kEventColumns + " FROM events ORDER BY seq");
  // What the chain says about each run, to check the runs table against (SPEC §5).
  std::map<std::string, std::pair<int64_t, nlohmann::json>> started;  // run -> seq, detail
  std::map<std::string, std::pair<int64_t, std::string>> finished;    // run -> seq, state
  int64_t prev_seq = 0;
  std::string prev_hash(kGenesisHash);
  for (;;) {
    row = st.Step();
    if (!row.ok()) return read_error(row.status());
    if (!*row) break;
    bool detail_ok = true;
    StoredEvent e = ReadEvent(st, &detail_ok);
    const std::string name = "event " + std::to_string(e.seq) + ": ";
    ++report.events_checked;
    if (e.seq != prev_seq + 1) {
      std::string missing = e.seq == prev_seq + 2
                                ? "event " + std::to_string(prev_seq + 1) + " is missing"
                                : "events " + std::to_string(prev_seq + 1) + " to " +
                                      std::to_string(e.seq - 1) + " are missing";
      return fail(e.seq, name +
                             (prev_seq == 0 ? "is the first event; "
                                            : "follows event " + std::to_string(prev_seq) + "; ") +
                             missing + " (deleted?)");
    }
    if (e.prev_hash != prev_hash) {
      return fail(e.seq, name +
                             (prev_seq == 0
                                  ? "prev_hash is not the chain's start (64 zeros)"
                                  : "prev_hash does not match event " + std::to_string(prev_seq)) +
                             " (an event was deleted or reordered, or prev_hash was edited)");
    }
    if (!detail_ok) return fail(e.seq, name + "detail is not valid JSON (edited?)");
    if (HasDuplicateKeys(st.Text(9)))
      return fail(e.seq, name + "detail has a key twice, which its hash cannot cover (edited?)");
    if (e.event == "run_started" && !started.count(e.run_id)) started[e.run_id] = {e.seq, e.detail};
    if (e.event == "run_finished") finished[e.run_id] = {e.seq, e.to};
    if (!st.IsInteger(8)) return fail(e.seq, name + "attempt is not an integer (edited?)");
    if (ChainHash(e.prev_hash, e) != e.hash) {
      return fail(e.seq, name + "hash does not match its contents (edited?)");
    }
    prev_seq = e.seq;
    prev_hash = e.hash;
  }

  Result<ChainHead> head = ReadMetaHead(db_);
  if (!head.ok()) return read_error(head.status());
  if (head->seq > prev_seq) {
    return fail(prev_seq + 1, "event " + std::to_string(prev_seq + 1) +
                                  ": missing; the log ends at event " + std::to_string(prev_seq) +
                                  " but the chain head recorded in meta is event " +
                                  std::to_string(head->seq) + " (events at the end were deleted)");
  }
  if (head->seq < prev_seq) {
    return fail(prev_seq, "event " + std::to_string(prev_seq) +
                              ": the chain head recorded in meta is event " +
                              std::to_string(head->seq) + ", behind the log (meta edited?)");
  }
  if (head->hash != prev_hash) {
    return fail(prev_seq, "event " + std::to_string(prev_seq) +
                              ": hash differs from the chain head recorded in meta (edited?)");
  }

  auto runs = QueryRuns("", "", /*with_text=*/true);
  if (!runs.ok()) return read_error(runs.status());
  for (const StoredRun& run : *runs) {
    auto s = started.find(run.run_id);
    // A run whose executor died before its run_started was durable has no recorded facts
    // to hold its row to (recover ends it as aborted); there is nothing to check.
    if (s == started.end()) continue;
    if (std::string problem = RunRowProblem(run, s->second.second); !problem.empty())
      return fail(s->second.first, "run " + run.run_id + ": the runs table's " + problem +
                                       " does not match its run_started (event " +
                                       std::to_string(s->second.first) + "; edited?)");
    auto f = finished.find(run.run_id);
    if (f != finished.end() && !run.state.empty() && !f->second.second.empty() &&
        run.state != f->second.second)
      return fail(f->second.first, "run " + run.run_id + ": the runs table's state '" +
                                       run.state + "' does not match its run_finished ('" +
                                       f->second.second + "'; edited?)");
  }

  report.head_seq = prev_seq;
  report.head_hash = prev_seq == 0 ? "" : prev_hash;
  return report;
}

}  // namespace runbook
