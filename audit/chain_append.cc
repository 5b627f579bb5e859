#include "audit/chain_append.h"

#include <charconv>

#include "audit/sqlite_db.h"

namespace runbook {

namespace {

// The newest link to append after: meta's head, or the last event if that is newer (only when
// meta was edited behind our back; even then no seq is reused).
Result<ChainHead> ReadHead(SqliteDb& db) {
  Result<ChainHead> meta = ReadMetaHead(db);
  if (!meta.ok()) return meta;
  ChainHead head = *meta;
  Statement last(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
  Result<bool> row = last.Step();
  if (!row.ok()) return row.status();
  if (*row && last.Int(0) > head.seq) {
    head.seq = last.Int(0);
    head.hash = last.Text(1);
  }
  return head;
}

Status SetMeta(SqliteDb& db, const std::string& key, const std::string& value) {
  Statement st(db,
               "INSERT INTO meta(key, value) VALUES(?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  st.Bind(1, key);
  st.Bind(2, value);
  return st.Run();
}

}  // namespace

Result<ChainHead> ReadMetaHead(SqliteDb& db) {
  ChainHead head;
  Statement meta(db,
                 "SELECT key, value FROM meta WHERE key IN ('chain_head_seq', 'chain_head_hash')");
  for (;;) {
    Result<bool> row = meta.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string key = meta.Text(0);
    std::string value = meta.Text(1);
    if (key == "chain_head_seq") {
      long long seq = 0;
      std::from_chars(value.data(), value.data() + value.size(), seq);
      head.seq = seq;
    } else {
      head.hash = value;
    }
  }
  return head;
}

Result<int64_t> ChainAppender::DataVersion() {
  Statement version(db_, "PRAGMA data_version");
  Result<bool> row = version.Step();
  if (!row.ok()) return row.status();
  return *row ? version.Int(0) : -1;
}

Status ChainAppender::Begin() {
  moved_ = false;
  // Another connection's commit since ours changes data_version: its events moved the head.
  Result<int64_t> version = DataVersion();
  if (!version.ok()) return version.status();
  if (*version != data_version_) head_.reset();
  data_version_ = *version;
  return Status::Ok();
}

Status ChainAppender::Append(StoredEvent* e) {
  if (!head_) {
    Result<ChainHead> head = ReadHead(db_);
    if (!head.ok()) return head.status();
    head_ = *head;
  }
  e->seq = head_->seq + 1;
  e->prev_hash = head_->hash;
  e->hash = ChainHash(e->prev_hash, *e);

  Statement insert(db_,
                   "INSERT INTO events(seq, run_id, ts, event, phase, step, from_state, "
                   "to_state, attempt, detail, prev_hash, hash) "
                   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, e->seq);
  insert.Bind(2, e->run_id);
  insert.Bind(3, e->ts);
  insert.Bind(4, e->event);
  insert.Bind(5, e->phase);
  insert.Bind(6, e->step);
  insert.Bind(7, e->from);
  insert.Bind(8, e->to);
  insert.Bind(9, static_cast<int64_t>(e->attempt));
  insert.Bind(10, CanonicalJson(e->detail));
  insert.Bind(11, e->prev_hash);
  insert.Bind(12, e->hash);
  if (Status s = insert.Run(); !s.ok()) {
    head_.reset();
    return s;
  }
  head_ = ChainHead{e->seq, e->hash};
  moved_ = true;
  return Status::Ok();
}

Status ChainAppender::Finish() {
  if (!moved_ || !head_) return Status::Ok();
  if (Status s = SetMeta(db_, "chain_head_seq", std::to_string(head_->seq)); !s.ok()) return s;
  return SetMeta(db_, "chain_head_hash", head_->hash);
}

void ChainAppender::Committed(bool committed) {
  if (!committed) {
    head_.reset();
    data_version_ = -1;
  }
  moved_ = false;
}

}  // namespace runbook
