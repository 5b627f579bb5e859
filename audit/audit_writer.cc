#include "audit/audit_writer.h"

#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "audit/audit_time.h"
#include "audit/chain_append.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

constexpr int kRecordVersion = 1;

// An event larger than this that does not fit in the journal is journaled with its long
// strings cut (CutToFit) rather than held in memory.
constexpr size_t kCutAbove = 4096;
// What CutToFit keeps of a long string: its end, where a failure usually shows.
constexpr size_t kCutKeep = 1024;

// Errors of the disk (full, failing, read-only): a later attempt may get through. A database
// that another process kept locked past the busy timeout stays an error of its own (kBusy), as
// for every other command: the caller hears of it.
bool Deferrable(const Status& s) { return s.kind() == StatusKind::kIOError; }

const char* KindName(AuditRecord::Kind kind) {
  switch (kind) {
    case AuditRecord::Kind::kEvent:
      return "event";
    case AuditRecord::Kind::kRunEnd:
      return "run_end";
    case AuditRecord::Kind::kUnlock:
      return "unlock";
  }
  return "event";
}

// Whether an event with exactly these contents is in the database already.
Result<bool> EventStored(SqliteDb& db, const StoredEvent& e) {
  Statement same(db,
                 "SELECT 1 FROM events WHERE run_id = ? AND ts = ? AND event = ? AND phase = ? "
                 "AND step = ? AND from_state = ? AND to_state = ? AND attempt = ? AND "
                 "detail = ? LIMIT 1");
  same.Bind(1, e.run_id);
  same.Bind(2, e.ts);
  same.Bind(3, e.event);
  same.Bind(4, e.phase);
  same.Bind(5, e.step);
  same.Bind(6, e.from);
  same.Bind(7, e.to);
  same.Bind(8, static_cast<int64_t>(e.attempt));
  same.Bind(9, CanonicalJson(e.detail));
  return same.Step();
}

}  // namespace

// Applies `r` inside the caller's write transaction: true when written, false when it was an
// event already in the database (only looked for when `from_journal`). Checks come before
// writes, so a refusal (kNotFound, kRefused) leaves the transaction as it was.
Result<bool> SqliteRecords::Apply(const AuditRecord& r, bool from_journal) {
  SqliteDb& db = db_;
  switch (r.kind) {
    case AuditRecord::Kind::kEvent: {
      if (r.run_id.empty() || r.run_id != known_run_) {
        Statement exists(db, "SELECT 1 FROM runs WHERE run_id = ?");
        exists.Bind(1, r.run_id);
        Result<bool> row = exists.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::NotFound("unknown run (BeginRun must come first)");
        known_run_ = r.run_id;
      }
      StoredEvent e = r.event;
      e.run_id = r.run_id;
      if (from_journal) {
        Result<bool> stored = EventStored(db, e);
        if (!stored.ok()) return stored.status();
        if (*stored) return false;
      }
      if (Status s = chain_.Append(&e); !s.ok()) return s;
      return true;
    }
    case AuditRecord::Kind::kRunEnd: {
      Statement update(
          db, "UPDATE runs SET state = ?, exit_code = ?, finished_at = ? WHERE run_id = ?");
      update.Bind(1, r.state);
      update.Bind(2, static_cast<int64_t>(r.exit_code));
      update.Bind(3, r.finished_at);
      update.Bind(4, r.run_id);
      if (Status s = update.Run(); !s.ok()) return s;
      if (sqlite3_changes(db.handle()) == 0) return Status::NotFound("unknown run");
      return true;
    }
    case AuditRecord::Kind::kUnlock: {
      Statement held(db, "SELECT run_id FROM locks WHERE lock_key = ?");
      held.Bind(1, r.lock_key);
      Result<bool> row = held.Step();
      if (!row.ok()) return row.status();
      if (!*row) return true;
      if (held.Text(0) != r.run_id) {
        return Status::Refused("cannot release lock '" + r.lock_key + "' for run " + r.run_id +
                               ": it is held by run " + held.Text(0));
      }
      Statement del(db, "DELETE FROM locks WHERE lock_key = ? AND run_id = ?");
      del.Bind(1, r.lock_key);
      del.Bind(2, r.run_id);
      if (Status s = del.Run(); !s.ok()) return s;
      return true;
    }
  }
  return Status::Error("unknown record kind");
}

Status SqliteRecords::InTransaction(const std::function<Status()>& body) {
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  known_run_.clear();  // runs are checked once per transaction
  Status s = chain_.Begin();
  if (s.ok()) s = body();
  if (s.ok()) s = chain_.Finish();
  if (s.ok()) s = tx.Commit();
  chain_.Committed(s.ok());
  return s;
}

void SqliteRecords::AfterReplay() {
  // Space came back: copy the WAL into the database now, so that later writes reuse the WAL
  // file from its start instead of growing it. PASSIVE never waits for other connections.
  (void)db_.Exec("PRAGMA wal_checkpoint(PASSIVE)");
}

namespace {

// Every string in `value` longer than kCutKeep, cut to its last kCutKeep bytes.
nlohmann::json CutStrings(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      return s.size() <= kCutKeep ? value : nlohmann::json(s.substr(s.size() - kCutKeep));
    }
    case nlohmann::json::value_t::object: {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = CutStrings(it.value());
      return out;
    }
    case nlohmann::json::value_t::array: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : value) out.push_back(CutStrings(v));
      return out;
    }
    default:
      return value;
  }
}

// `r` with the long strings of its detail (output tails, mostly) cut, and saying so: a journal
// that has run out of room still takes the event, its outcome and the end of its output.
AuditRecord CutToFit(const AuditRecord& r) {
  AuditRecord cut = r;
  cut.event.detail = CutStrings(r.event.detail);
  if (cut.event.detail.is_object()) cut.event.detail["cut_for_journal"] = true;
  return cut;
}

}  // namespace

AuditRecord EventRecord(const std::string& run_id, const AuditEvent& event) {
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
  return record;
}

AuditRecord RunEndRecord(const std::string& run_id, const std::string& state, int exit_code,
                         std::chrono::system_clock::time_point finished_at) {
  AuditRecord record;
  record.kind = AuditRecord::Kind::kRunEnd;
  record.run_id = run_id;
  record.state = state;
  record.exit_code = exit_code;
  record.finished_at = FormatAuditTime(finished_at);
  return record;
}

AuditRecord UnlockRecord(const std::string& run_id, const std::string& lock_key) {
  AuditRecord record;
  record.kind = AuditRecord::Kind::kUnlock;
  record.run_id = run_id;
  record.lock_key = lock_key;
  return record;
}

std::string EncodeRecord(const AuditRecord& r) {
  nlohmann::json j = {{"v", kRecordVersion}, {"kind", KindName(r.kind)}, {"run_id", r.run_id}};
  switch (r.kind) {
    case AuditRecord::Kind::kEvent:
      j["ts"] = r.event.ts;
      j["event"] = r.event.event;
      j["phase"] = r.event.phase;
      j["step"] = r.event.step;
      j["from"] = r.event.from;
      j["to"] = r.event.to;
      j["attempt"] = r.event.attempt;
      j["detail"] = r.event.detail;
      break;
    case AuditRecord::Kind::kRunEnd:
      j["state"] = r.state;
      j["exit_code"] = r.exit_code;
      j["finished_at"] = r.finished_at;
      break;
    case AuditRecord::Kind::kUnlock:
      j["lock"] = r.lock_key;
      break;
  }
  return CanonicalJson(j);
}

Result<AuditRecord> DecodeRecord(std::string_view payload) {
  std::optional<nlohmann::json> parsed = ParseStoredJson(payload);
  if (!parsed || !parsed->is_object()) return Status::Corruption("a record is not a JSON object");
  const nlohmann::json& j = *parsed;
  std::string missing;
  auto text = [&](const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      if (missing.empty()) missing = key;
      return std::string();
    }
    return it->get<std::string>();
  };
  auto number = [&](const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
      if (missing.empty()) missing = key;
      return 0;
    }
    return it->get<int>();
  };
  if (number("v") != kRecordVersion) {
    return Status::Corruption(
        "a record of format version " + j.value("v", nlohmann::json()).dump() +
        " (this runbook writes version " + std::to_string(kRecordVersion) + ")");
  }
  AuditRecord r;
  const std::string kind = text("kind");
  r.run_id = text("run_id");
  if (kind == "event") {
    r.kind = AuditRecord::Kind::kEvent;
    r.event.run_id = r.run_id;
    r.event.ts = text("ts");
    r.event.event = text("event");
    r.event.phase = text("phase");
    r.event.step = text("step");
    r.event.from = text("from");
    r.event.to = text("to");
    r.event.attempt = number("attempt");
    auto detail = j.find("detail");
    if (detail == j.end()) {
      if (missing.empty()) missing = "detail";
    } else {
      r.event.detail = *detail;
    }
  } else if (kind == "run_end") {
    r.kind = AuditRecord::Kind::kRunEnd;
    r.state = text("state");
    r.exit_code = number("exit_code");
    r.finished_at = text("finished_at");
  } else if (kind == "unlock") {
    r.kind = AuditRecord::Kind::kUnlock;
    r.lock_key = text("lock");
  } else {
    return Status::Corruption("a record of unknown kind '" + kind + "'");
  }
  if (!missing.empty()) {
    return Status::Corruption("a " + kind + " record without a valid '" + missing + "'");
  }
  return r;
}

AuditWriter::AuditWriter(RecordDatabase& db, std::string journal_path)
    : db_(db), journal_(std::move(journal_path)) {}

Result<AuditWriter::Outcome> AuditWriter::Write(const AuditRecord& record) {
  Queue(record);
  Fate fate = Sync();
  if (!fate.status.ok()) return fate.status;
  return fate.outcome;
}

void AuditWriter::Queue(const AuditRecord& record) {
  held_.push_back({record, next_serial_++, false});
}

AuditWriter::Fate AuditWriter::Sync() {
  Fate fate;
  Flush(synced_, &fate);
  synced_ = next_serial_;
  return fate;
}

Status AuditWriter::Store(const AuditRecord& record) {
  return db_.InTransaction(
      [&]() -> Status { return db_.Apply(record, /*from_journal=*/false).status(); });
}

Status AuditWriter::StoreAll() {
  return db_.InTransaction([&]() -> Status {
    for (const Held& h : held_)
      if (Status s = db_.Apply(h.record, /*from_journal=*/false).status(); !s.ok()) return s;
    return Status::Ok();
  });
}

Status AuditWriter::Journal(const AuditRecord& record, JournalFile::Contents* contents) {
  std::string payload = EncodeRecord(record);
  Status s = journal_.Append(payload, *contents);
  if (!s.ok() && record.kind == AuditRecord::Kind::kEvent && payload.size() > kCutAbove) {
    payload = EncodeRecord(CutToFit(record));
    s = journal_.Append(payload, *contents);
  }
  if (!s.ok()) return s;
  contents->end += JournalFile::Line(payload).size();
  contents->size = std::max(contents->size, contents->end);
  contents->records.push_back(std::move(payload));
  return Status::Ok();
}

void AuditWriter::Flush(uint64_t from, Fate* fate) {
  // The journal, locked and read once it is needed: at once when it exists (its records go
  // first), else when a record must go into it.
  std::optional<JournalLock> lock;
  JournalFile::Contents contents;
  bool have_contents = false;
  Status journal_status;  // why the journal cannot be used now
  auto use_journal = [&](bool create) {
    if (have_contents) return true;
    if (!journal_status.ok()) return false;
    if (create) {
      journal_status = journal_.OpenOrCreate();
    } else {
      Result<bool> open = journal_.OpenIfExists();
      journal_status = open.status();
      if (open.ok() && !*open) return false;
    }
    if (!journal_status.ok()) return false;
    lock.emplace(journal_);
    journal_status = lock->status();
    if (!journal_status.ok()) {
      lock.reset();
      return false;
    }
    Result<JournalFile::Contents> read = journal_.Read();
    journal_status = read.status();
    if (!read.ok()) return false;
    contents = std::move(read).value();
    have_contents = true;
    return true;
  };

  // Records in the journal, this process's or another's, go into the database first; while
  // they cannot, new records queue behind them in the journal.
  bool behind_journal = false;
  if (use_journal(/*create=*/false) && !contents.records.empty()) {
    ReplayReport report;
    ReplayLocked(&contents, &report);
    if (!report.status.ok()) {
      behind_journal = true;
      if (store_error_.empty()) store_error_ = report.status.message();
    }
  }

  auto done = [&](Outcome outcome) {
    Held& h = held_.front();
    if (h.refused) ++counts_[h.record.run_id].rescued;
    if (h.serial >= from && outcome == Outcome::kJournaled) fate->outcome = outcome;
    held_.pop_front();
  };
  // The common case: everything waiting goes into the database in one commit.
  Status batch;
  if (!behind_journal && !held_.empty()) {
    batch = StoreAll();
    if (batch.ok()) {
      while (!held_.empty()) done(Outcome::kStored);
      return;
    }
  }
  // Else one record at a time, so that one the database refuses for good does not hold up
  // the others, and those it cannot take now go to the journal in order.
  while (!held_.empty()) {
    const AuditRecord& record = held_.front().record;
    if (!behind_journal) {
      // A database that stayed busy or cannot be written now is not tried again per record.
      Status s = batch.IsBusy() || Deferrable(batch) ? batch : Store(record);
      if (s.ok()) {
        done(Outcome::kStored);
        continue;
      }
      // A record refused before is waiting for the disk: when the database is merely busy
      // now, it goes on to the journal rather than being dropped.
      if (!Deferrable(s) && !(s.IsBusy() && held_.front().refused)) {
        // Refused for good (busy past the timeout, unknown run, damaged file), as before.
        if (held_.front().serial >= from) {
          if (fate->status.ok()) fate->status = s;
          ++fate->not_durable;
        }
        held_.pop_front();
        continue;
      }
      if (store_error_.empty()) store_error_ = s.message();
    }
    if (!use_journal(/*create=*/true)) break;
    if (Status s = Journal(record, &contents); !s.ok()) {
      journal_status = s;
      break;
    }
    behind_journal = true;
    ++counts_[record.run_id].journaled;
    done(Outcome::kJournaled);
  }
  if (held_.empty()) return;

  // What is left stays in memory, in order, until a later Write or FlushHeld moves it on.
  journal_error_ = journal_status.ok() ? "it cannot be opened" : journal_status.message();
  for (Held& h : held_) {
    if (h.serial >= from) {
      if (fate->status.ok()) {
        fate->status = Status::IOError("could be written neither to the audit database (" +
                                       store_error_ + ") nor to the journal " +
                                       journal_.path() + " (" + journal_error_ +
                                       "); held in memory");
      }
      ++fate->not_durable;
    }
    h.refused = true;
  }
}

void AuditWriter::ReplayLocked(JournalFile::Contents* contents, ReplayReport* report) {
  if (!contents->warning.empty()) report->warnings.push_back(contents->warning);
  if (contents->records.empty()) {
    // Only a bad tail: clear it, so that it is not reported again.
    if (!contents->warning.empty()) (void)journal_.Clear();
    return;
  }
  const int total = static_cast<int>(contents->records.size());
  auto fail = [&](const Status& s) {
    report->status = s;
    report->left = total;
  };
  int written = 0;
  int duplicates = 0;
  std::vector<std::string> warnings;
  Status stored = db_.InTransaction([&]() -> Status {
    written = duplicates = 0;
    warnings.clear();
    for (int i = 0; i < total; ++i) {
      const std::string where =
          "audit journal " + journal_.path() + ": record " + std::to_string(i + 1);
      Result<AuditRecord> record = DecodeRecord(contents->records[static_cast<size_t>(i)]);
      if (!record.ok()) {
        warnings.push_back(where + " skipped: " + record.message());
        continue;
      }
      Result<bool> applied = db_.Apply(*record, /*from_journal=*/true);
      if (!applied.ok()) {
        // A record the database refuses for good (its run is unknown, its lock is another
        // run's) is skipped, so that it cannot hold up the others; anything else stops the
        // replay and the journal keeps every record.
        const StatusKind kind = applied.status().kind();
        if (kind != StatusKind::kNotFound && kind != StatusKind::kRefused) {
          return applied.status();
        }
        warnings.push_back(where + " (" + KindName(record->kind) + " of run " + record->run_id +
                           ") skipped: " + applied.message());
        continue;
      }
      ++(*applied ? written : duplicates);
    }
    return Status::Ok();
  });
  if (!stored.ok()) return fail(stored);
  report->written += written;
  report->duplicates += duplicates;
  report->warnings.insert(report->warnings.end(), warnings.begin(), warnings.end());
  if (Status s = journal_.Clear(); !s.ok()) {
    // Harmless: the next replay finds these records in the database and skips them.
    report->warnings.push_back(s.message() + " (its records are in the database already)");
  }
  db_.AfterReplay();
  Result<JournalFile::Contents> reread = journal_.Read();
  if (reread.ok()) {
    *contents = std::move(reread).value();
  } else {
    *contents = {};
  }
}

ReplayReport AuditWriter::Replay() {
  ReplayReport report;
  Result<bool> open = journal_.OpenIfExists();
  if (!open.ok()) {
    report.status = open.status();
    return report;
  }
  if (!*open) return report;
  JournalLock lock(journal_);
  if (!lock.status().ok()) {
    report.status = lock.status();
    return report;
  }
  Result<JournalFile::Contents> contents = journal_.Read();
  if (!contents.ok()) {
    report.status = contents.status();
    return report;
  }
  ReplayLocked(&contents.value(), &report);
  return report;
}

Status AuditWriter::Reserve() {
  if (Status s = journal_.OpenOrCreate(); !s.ok()) return s;
  JournalLock lock(journal_);
  if (!lock.status().ok()) return lock.status();
  return journal_.Reserve();
}

Result<int> AuditWriter::JournalRecords() {
  Result<bool> open = journal_.OpenIfExists();
  if (!open.ok()) return open.status();
  if (!*open) return 0;
  JournalLock lock(journal_);
  if (!lock.status().ok()) return lock.status();
  Result<JournalFile::Contents> contents = journal_.Read();
  if (!contents.ok()) return contents.status();
  return static_cast<int>(contents->records.size());
}

AuditBacklog AuditWriter::Backlog(const std::string& run_id) const {
  AuditBacklog backlog;
  if (auto it = counts_.find(run_id); it != counts_.end()) {
    backlog.journaled = it->second.journaled;
    backlog.rescued = it->second.rescued;
  }
  backlog.held = static_cast<int>(std::count_if(held_.begin(), held_.end(), [&](const Held& h) {
    return h.refused && h.record.run_id == run_id;
  }));
  backlog.journal = journal_.path();
  backlog.store_error = store_error_;
  if (backlog.held > 0) backlog.journal_error = journal_error_;
  return backlog;
}

std::vector<std::string> AuditWriter::FlushHeld() {
  std::vector<std::string> left;
  if (held_.empty()) return left;
  Fate unused;
  Flush(/*from=*/next_serial_, &unused);
  for (const Held& h : held_) left.push_back(EncodeRecord(h.record));
  return left;
}

}  // namespace runbook
