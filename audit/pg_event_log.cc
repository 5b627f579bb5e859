#include "audit/pg_event_log.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "audit/audit_time.h"
#include "audit/chain_append.h"
#include "audit/chain_verify.h"
#include "audit/event_row.h"
#include "audit/hash_chain.h"
#include "audit/pg_connection.h"

namespace runbook {

namespace {

constexpr const char* kEventColumns =
    "seq, run_id, ts, event, phase, step, from_state, to_state, attempt, detail, prev_hash, hash";

// How many events Verify reads at a time: the whole log need not fit in memory.
constexpr int kVerifyBatch = 2000;

// How many events ForEachEventRow reads at a time.
constexpr int kReadBatch = 2000;

// Row `r` of rows selected with kEventColumns; valid as long as `rows`.
EventRow RowOf(const PgRows& rows, int r) {
  EventRow row;
  row.seq = rows.Int(r, 0);
  row.run_id = rows.TextView(r, 1);
  row.ts = rows.TextView(r, 2);
  row.event = rows.TextView(r, 3);
  row.phase = rows.TextView(r, 4);
  row.step = rows.TextView(r, 5);
  row.from = rows.TextView(r, 6);
  row.to = rows.TextView(r, 7);
  // attempt is an integer column here: PostgreSQL holds nothing else in it.
  row.attempt = static_cast<int>(rows.Int(r, 8));
  row.detail = rows.TextView(r, 9);
  row.prev_hash = rows.TextView(r, 10);
  row.hash = rows.TextView(r, 11);
  return row;
}

// The event in row `r` of rows selected with kEventColumns.
StoredEvent ReadEvent(const PgRows& rows, int r) {
  bool detail_ok = true;
  return ToStoredEvent(RowOf(rows, r), &detail_ok);
}

// The chain head as `meta` records it; seq 0 and the genesis hash for what is missing.
ChainHead MetaHead(const PgRows& rows) {
  ChainHead head;
  for (int r = 0; r < rows.size(); ++r) {
    const std::string value = rows.Text(r, 1);
    if (rows.Text(r, 0) == "chain_head_seq") {
      long long seq = 0;
      std::from_chars(value.data(), value.data() + value.size(), seq);
      head.seq = seq;
    } else {
      head.hash = value;
    }
  }
  return head;
}

constexpr const char* kSelectHead =
    "SELECT key, value FROM meta WHERE key IN ('chain_head_seq', 'chain_head_hash') "
    "ORDER BY key";

// Locks the chain head for this transaction and returns it: meta's, or the last event if that
// is newer (only when meta was edited behind our back; even then no seq is reused). Every
// append takes this row lock first, so appends from all sessions serialize on it; and since
// each statement of a READ COMMITTED transaction sees what was committed before it started,
// the reads after the lock see the event the previous holder appended.
Result<ChainHead> LockHead(PgConnection& conn) {
  Result<PgRows> meta = conn.Exec(std::string(kSelectHead) + " FOR UPDATE");
  if (!meta.ok()) return meta.status();
  if (meta->size() < 2) {
    // Deleted behind our back: put the rows back so that there is a row to lock; the last
    // event below still decides where the chain goes on.
    Result<PgRows> restore = conn.Exec(
        "INSERT INTO meta(key, value) VALUES('chain_head_seq', '0'), ('chain_head_hash', $1) "
        "ON CONFLICT (key) DO NOTHING",
        {std::string(kGenesisHash)});
    if (!restore.ok()) return restore.status();
    meta = conn.Exec(std::string(kSelectHead) + " FOR UPDATE");
    if (!meta.ok()) return meta.status();
  }
  ChainHead head = MetaHead(*meta);
  Result<PgRows> last = conn.Exec("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
  if (!last.ok()) return last.status();
  if (!last->empty() && last->Int(0, 0) > head.seq) {
    head.seq = last->Int(0, 0);
    head.hash = last->Text(0, 1);
  }
  return head;
}

// Inserts `e` as it is and moves the head in meta to it. Call with the head locked.
Status InsertEvent(PgConnection& conn, const StoredEvent& e) {
  Result<PgRows> insert = conn.Exec(
      "INSERT INTO events(seq, run_id, ts, event, phase, step, from_state, to_state, attempt, "
      "detail, prev_hash, hash) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      {e.seq, e.run_id, e.ts, e.event, e.phase, e.step, e.from, e.to, e.attempt,
       CanonicalJson(e.detail), e.prev_hash, e.hash});
  if (!insert.ok()) return insert.status();
  return conn
      .Exec(
          "INSERT INTO meta(key, value) VALUES('chain_head_seq', $1), ('chain_head_hash', $2) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          {std::to_string(e.seq), e.hash})
      .status();
}

Status RequireRun(PgConnection& conn, const std::string& run_id) {
  Result<PgRows> run = conn.Exec("SELECT 1 FROM runs WHERE run_id = $1", {run_id});
  if (!run.ok()) return run.status();
  if (run->empty()) return Status::NotFound("unknown run (BeginRun must come first)");
  return Status::Ok();
}

}  // namespace

Status PgEventLog::BeginRun(const RunRecord& run) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string context = "cannot record the start of run " + run.run_id;
  Status s = conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    // ON CONFLICT: of two sessions inserting one id, the second waits for the first and then
    // finds the row, rather than failing on the unique key.
    Result<PgRows> insert = conn_.Exec(
        "INSERT INTO runs(run_id, runbook, runbook_path, runbook_text, runbook_sha256, params, "
        "operator, host, pid, lock_key, plan_id, dry_run, started_at) "
        "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
        "ON CONFLICT (run_id) DO NOTHING",
        {run.run_id, run.runbook, run.runbook_path, PgValue::Bytes(run.runbook_text),
         // The text is what was run; its hash is derived here when the caller left it out.
         run.runbook_sha256.empty() ? Sha256Hex(run.runbook_text) : run.runbook_sha256,
         CanonicalJson(run.params), run.operator_name, run.host, run.pid, run.lock_key,
         PgValue::TextOrNull(run.plan_id), run.dry_run, FormatAuditTime(run.started_at)});
    if (!insert.ok()) return insert.status();
    if (insert->affected() == 0) return Status::Error("a run with this id already exists");
    return Status::Ok();
  });
  return s.WithContext(context);
}

Status PgEventLog::Append(const std::string& run_id, const AuditEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  const AuditRecord record = EventRecord(run_id, event);
  Result<AuditWriter::Outcome> written = writer_.Write(record);
  return written.status().WithContext("cannot record event " + record.event.event + " of run " +
                                      run_id);
}

Status PgEventLog::Queue(const std::string& run_id, const AuditEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  writer_.Queue(EventRecord(run_id, event));
  return Status::Ok();
}

Status PgEventLog::Sync(int* not_durable) {
  std::lock_guard<std::mutex> lock(mu_);
  AuditWriter::Fate fate = writer_.Sync();
  if (not_durable) *not_durable = fate.not_durable;
  return fate.status.WithContext("cannot record the run's events");
}

Status PgEventLog::EndRun(const std::string& run_id, const std::string& state, int exit_code,
                          std::chrono::system_clock::time_point finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<AuditWriter::Outcome> written =
      writer_.Write(RunEndRecord(run_id, state, exit_code, finished_at));
  return written.status().WithContext("cannot record the end of run " + run_id);
}

AuditBacklog PgEventLog::Backlog(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.Backlog(run_id);
}

Status PgRecords::InTransaction(const std::function<Status()>& body) {
  return conn_.Transact(PgIsolation::kReadCommitted, body);
}

Result<bool> PgRecords::Apply(const AuditRecord& r, bool from_journal) {
  Result<bool> applied = ApplyOne(r, from_journal);
  // A login that may not write here (an auditor's) must leave the journal as it is for one
  // that may: that refusal is not the record's, so it must not be skipped as one.
  if (from_journal && !applied.ok() && conn_.last_sqlstate() == "42501")
    return Status::Error(applied.message() + " (this login may not write the audit log)");
  return applied;
}

Result<bool> PgRecords::ApplyOne(const AuditRecord& r, bool from_journal) {
  switch (r.kind) {
    case AuditRecord::Kind::kEvent: {
      if (Status found = RequireRun(conn_, r.run_id); !found.ok()) return found;
      StoredEvent e = r.event;
      e.run_id = r.run_id;
      if (from_journal) {
        // Already there (a replay cut off between its COMMIT and the clearing of the journal,
        // or a COMMIT whose answer was lost): recognised by its contents, as in SQLite.
        Result<PgRows> same = conn_.Exec(
            "SELECT 1 FROM events WHERE run_id = $1 AND ts = $2 AND event = $3 AND phase = $4 "
            "AND step = $5 AND from_state = $6 AND to_state = $7 AND attempt = $8 AND "
            "detail = $9 LIMIT 1",
            {e.run_id, e.ts, e.event, e.phase, e.step, e.from, e.to, e.attempt,
             CanonicalJson(e.detail)});
        if (!same.ok()) return same.status();
        if (!same->empty()) return false;
      }
      Result<ChainHead> head = LockHead(conn_);
      if (!head.ok()) return head.status();
      e.seq = head->seq + 1;
      e.prev_hash = head->hash;
      e.hash = ChainHash(e.prev_hash, e);
      if (Status s = InsertEvent(conn_, e); !s.ok()) return s;
      return true;
    }
    case AuditRecord::Kind::kRunEnd: {
      Result<PgRows> update = conn_.Exec(
          "UPDATE runs SET state = $1, exit_code = $2, finished_at = $3 WHERE run_id = $4",
          {r.state, r.exit_code, r.finished_at, r.run_id});
      if (!update.ok()) return update.status();
      if (update->affected() == 0) return Status::NotFound("unknown run");
      return true;
    }
    case AuditRecord::Kind::kUnlock: {
      // The row stays locked until COMMIT, so no one takes it over in between.
      Result<PgRows> held =
          conn_.Exec("SELECT run_id FROM locks WHERE lock_key = $1 FOR UPDATE", {r.lock_key});
      if (!held.ok()) return held.status();
      if (held->empty()) return true;
      if (held->Text(0, 0) != r.run_id) {
        return Status::Refused("cannot release lock '" + r.lock_key + "' for run " + r.run_id +
                               ": it is held by run " + held->Text(0, 0));
      }
      Result<PgRows> del = conn_.Exec("DELETE FROM locks WHERE lock_key = $1 AND run_id = $2",
                                      {r.lock_key, r.run_id});
      if (!del.ok()) return del.status();
      return true;
    }
  }
  return Status::Error("unknown record kind");
}

Status PgEventLog::CopyRun(const StoredRun& run) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    Result<PgRows> insert = conn_.Exec(
        "INSERT INTO runs(run_id, runbook, runbook_path, runbook_text, runbook_sha256, params, "
        "operator, host, pid, lock_key, plan_id, dry_run, started_at, finished_at, state, "
        "exit_code) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
        "$16) ON CONFLICT (run_id) DO NOTHING",
        {run.run_id, run.runbook, run.runbook_path, PgValue::Bytes(run.runbook_text),
         run.runbook_sha256, CanonicalJson(run.params), run.operator_name, run.host, run.pid,
         run.lock_key, PgValue::TextOrNull(run.plan_id), run.dry_run, run.started_at,
         PgValue::TextOrNull(run.finished_at), PgValue::TextOrNull(run.state),
         run.exit_code ? PgValue(*run.exit_code) : PgValue(nullptr)});
    if (!insert.ok()) return insert.status();
    if (insert->affected() == 0) return Status::Error("a run with this id already exists");
    return Status::Ok();
  });
  return s.WithContext("cannot copy run " + run.run_id);
}

Status PgEventLog::CopyEvent(const StoredEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    if (Status found = RequireRun(conn_, event.run_id); !found.ok()) return found;
    Result<ChainHead> head = LockHead(conn_);
    if (!head.ok()) return head.status();
    if (event.seq != head->seq + 1 || event.prev_hash != head->hash) {
      return Status::Invalid("it does not follow the chain head (event " +
                             std::to_string(head->seq) + ")");
    }
    return InsertEvent(conn_, event);
  });
  return s.WithContext("cannot copy event " + std::to_string(event.seq));
}

Result<std::vector<StoredRun>> PgEventLog::QueryRuns(const std::string& where,
                                                     const std::string& arg, bool with_text) {
  const std::string sql = std::string("SELECT run_id, runbook, runbook_path, ") +
                          (with_text ? "runbook_text" : "''::bytea") +
                          ", runbook_sha256, params, operator, host, pid, lock_key, plan_id, "
                          "dry_run, started_at, finished_at, state, exit_code FROM runs " +
                          where + " ORDER BY started_at, row_order";
  std::vector<PgValue> params;
  if (!arg.empty()) params.push_back(arg);
  Result<PgRows> rows = conn_.Exec(sql, params);
  if (!rows.ok()) return rows.status();
  std::vector<StoredRun> runs;
  for (int i = 0; i < rows->size(); ++i) {
    StoredRun r;
    r.run_id = rows->Text(i, 0);
    r.runbook = rows->Text(i, 1);
    r.runbook_path = rows->Text(i, 2);
    r.runbook_text = rows->Bytes(i, 3);
    r.runbook_sha256 = rows->Text(i, 4);
    r.params = ParseStoredJson(rows->Text(i, 5)).value_or(nlohmann::json(rows->Text(i, 5)));
    r.operator_name = rows->Text(i, 6);
    r.host = rows->Text(i, 7);
    r.pid = static_cast<int>(rows->Int(i, 8));
    r.lock_key = rows->Text(i, 9);
    r.plan_id = rows->Text(i, 10);
    r.dry_run = rows->Bool(i, 11);
    r.started_at = rows->Text(i, 12);
    r.finished_at = rows->Text(i, 13);
    r.state = rows->Text(i, 14);
    if (!rows->IsNull(i, 15)) r.exit_code = static_cast<int>(rows->Int(i, 15));
    runs.push_back(std::move(r));
  }
  return runs;
}

Result<std::vector<StoredRun>> PgEventLog::ListRuns() {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted,
                        [&] { return QueryRuns("", "", /*with_text=*/false); });
}

Result<std::vector<StoredRun>> PgEventLog::NewestRuns(int limit,
                                                      const std::string& exclude_runbook) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&] {
    return QueryRuns("WHERE row_order IN (SELECT row_order FROM runs WHERE runbook <> $1 ORDER "
                     "BY started_at DESC, row_order DESC LIMIT " +
                         std::to_string(std::max(limit, 0)) + ")",
                     exclude_runbook.empty() ? std::string("\x01") : exclude_runbook,
                     /*with_text=*/false);
  });
}

Result<std::vector<StoredRun>> PgEventLog::RunsOfPlan(const std::string& plan_id) {
  if (plan_id.empty()) return std::vector<StoredRun>{};
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&] {
    return QueryRuns("WHERE plan_id = $1", plan_id, /*with_text=*/false);
  });
}

Result<StoredRun> PgEventLog::GetRun(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (run_id.empty()) return Status::NotFound("unknown run ''");
  Result<std::vector<StoredRun>> runs = conn_.Transact(PgIsolation::kReadCommitted, [&] {
    return QueryRuns("WHERE run_id = $1", run_id, /*with_text=*/true);
  });
  if (!runs.ok()) return runs.status();
  if (runs->empty()) return Status::NotFound("unknown run '" + run_id + "'");
  return std::move(runs->front());
}

Result<std::vector<StoredRun>> PgEventLog::LastRunningRuns() {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&] {
    return QueryRuns("WHERE state IS NULL AND finished_at IS NULL", "", /*with_text=*/true);
  });
}

Result<std::vector<StoredEvent>> PgEventLog::Events(const std::optional<std::string>& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Result<std::vector<StoredEvent>> {
    std::vector<PgValue> params;
    if (run_id) params.push_back(*run_id);
    Result<PgRows> rows = conn_.Exec(std::string("SELECT ") + kEventColumns + " FROM events" +
                                         (run_id ? " WHERE run_id = $1" : "") + " ORDER BY seq",
                                     params);
    if (!rows.ok()) return rows.status();
    std::vector<StoredEvent> events;
    events.reserve(static_cast<size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) events.push_back(ReadEvent(*rows, i));
    return events;
  });
}

Status PgEventLog::ForEachEventRow(const std::optional<std::string>& run_id,
                                   const std::function<Status(const EventRow&)>& visit) {
  std::lock_guard<std::mutex> lock(mu_);
  // Batches by seq in one snapshot, so that the whole log need not fit in memory. A
  // transaction that must run again (after a lost connection) goes on after the last event
  // visited: none is visited twice.
  int64_t after = 0;
  const std::string sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE seq > $1" +
                          (run_id ? " AND run_id = $2" : "") + " ORDER BY seq LIMIT " +
                          std::to_string(kReadBatch);
  return conn_.Transact(PgIsolation::kSnapshot, [&]() -> Status {
    for (;;) {
      std::vector<PgValue> params = {after};
      if (run_id) params.push_back(*run_id);
      Result<PgRows> batch = conn_.Exec(sql, params);
      if (!batch.ok()) return batch.status();
      for (int i = 0; i < batch->size(); ++i) {
        const EventRow row = RowOf(*batch, i);
        if (Status s = visit(row); !s.ok()) return s;
        after = row.seq;
      }
      if (batch->size() < kReadBatch) return Status::Ok();
    }
  });
}

Result<std::vector<StoredEvent>> PgEventLog::EventsOfKinds(
    const std::vector<EventKind>& kinds, const std::optional<std::vector<std::string>>& run_ids) {
  if (kinds.empty() || (run_ids && run_ids->empty())) return std::vector<StoredEvent>{};
  std::lock_guard<std::mutex> lock(mu_);
  // The runs a few hundred at a time (a statement binds at most 65,535 values), merged by
  // seq; one snapshot for all of them.
  constexpr size_t kRunsPerQuery = 500;
  return conn_.Transact(PgIsolation::kSnapshot, [&]() -> Result<std::vector<StoredEvent>> {
    std::vector<StoredEvent> events;
    const size_t run_count = run_ids ? run_ids->size() : 0;
    size_t first = 0;
    do {
      std::vector<PgValue> params;
      auto placeholder = [&](const std::string& value) {
        params.emplace_back(value);
        return "$" + std::to_string(params.size());
      };
      std::string kind_list;
      for (const EventKind kind : kinds)
        kind_list += (kind_list.empty() ? "" : ", ") + placeholder(std::string(EventName(kind)));
      std::string run_list;
      for (size_t i = first; i < std::min(first + kRunsPerQuery, run_count); ++i)
        run_list += (run_list.empty() ? "" : ", ") + placeholder((*run_ids)[i]);
      Result<PgRows> rows = conn_.Exec(
          std::string("SELECT ") + kEventColumns + " FROM events WHERE event IN (" + kind_list +
              ")" + (run_ids ? " AND run_id IN (" + run_list + ")" : "") + " ORDER BY seq",
          params);
      if (!rows.ok()) return rows.status();
      for (int i = 0; i < rows->size(); ++i) events.push_back(ReadEvent(*rows, i));
      first += kRunsPerQuery;
    } while (first < run_count);
    if (run_count > kRunsPerQuery)
      std::sort(events.begin(), events.end(),
                [](const StoredEvent& a, const StoredEvent& b) { return a.seq < b.seq; });
    return events;
  });
}

Result<VerifyReport> PgEventLog::Verify() {
  std::lock_guard<std::mutex> lock(mu_);
  // One snapshot for the events, the head and the runs: appends that commit meanwhile are
  // not half seen.
  return conn_.Transact(PgIsolation::kSnapshot, [&]() -> Result<VerifyReport> {
    ChainVerifier verifier;
    // Damaged data on the server fails the verification; any other error (a lost connection,
    // a lock) is passed on, so that a database that cannot be read is never reported as
    // tampered.
    auto read_error = [&](const Status& s) -> Result<VerifyReport> {
      if (!s.IsCorruption()) return s;
      verifier.Fail(s.message());
      return verifier.Report();
    };
    Result<PgRows> declared = conn_.Exec(std::string("DECLARE verify_events NO SCROLL CURSOR FOR "
                                                     "SELECT ") +
                                         kEventColumns + " FROM events ORDER BY seq");
    if (!declared.ok()) return read_error(declared.status());
    for (;;) {
      Result<PgRows> batch =
          conn_.Exec("FETCH " + std::to_string(kVerifyBatch) + " FROM verify_events");
      if (!batch.ok()) return read_error(batch.status());
      for (int i = 0; i < batch->size(); ++i) {
        if (!verifier.AddRow(RowOf(*batch, i))) return verifier.Report();
      }
      if (batch->size() < kVerifyBatch) break;
    }
    Result<PgRows> meta = conn_.Exec(kSelectHead);
    if (!meta.ok()) return read_error(meta.status());
    if (!verifier.CheckHead(MetaHead(*meta))) return verifier.Report();
    Result<std::vector<StoredRun>> runs = QueryRuns("", "", /*with_text=*/true);
    if (!runs.ok()) return read_error(runs.status());
    for (const StoredRun& run : *runs) {
      if (!verifier.CheckRun(run)) return verifier.Report();
    }
    return verifier.Report();
  });
}

}  // namespace runbook
