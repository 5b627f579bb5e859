// Appending one event to the audit database's hash chain (docs/audit.md "Hash chain"), and
// reading the chain head that `meta` records. The event log's verification reads the head;
// the audit writer appends, whether an event comes straight from the executor or from the
// journal of records that waited for the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "audit/audit_records.h"
#include "audit/hash_chain.h"
#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// The last link of the chain: seq 0 and the genesis hash for an empty log.
struct ChainHead {
  int64_t seq = 0;
  std::string hash{kGenesisHash};
};

/// The chain head as `meta` records it (updated in the same transaction as every append, so
/// that deleting the last events is noticed and their seq values are never reused).
Result<ChainHead> ReadMetaHead(SqliteDb& db);

/// Appends events to the chain of one connection, keeping the head in memory between
/// transactions for as long as no other connection has written (PRAGMA data_version says so),
/// and moving the head in `meta` once per transaction rather than once per event.
///
///   ChainAppender chain(db);
///   Transaction tx(db);
///   chain.Begin();                       // after BEGIN IMMEDIATE
///   chain.Append(&event1); chain.Append(&event2);
///   chain.Finish();                      // writes meta's head; then tx.Commit()
///   chain.Committed(ok);                 // after COMMIT (or its failure)
class ChainAppender {
 public:
  explicit ChainAppender(SqliteDb& db) : db_(db) {}

  /// Inside a new write transaction: forgets the head in memory when another connection has
  /// committed since this one's last commit.
  Status Begin();
  /// Links `event` to the chain and inserts it: sets its seq, prev_hash and hash from the
  /// head. `event` must name a recorded run; its other fields (ts, event, phase, step, from,
  /// to, attempt, detail) are stored as they are.
  Status Append(StoredEvent* event);
  /// Moves meta's head to the last event appended in this transaction, if any.
  Status Finish();
  /// After the transaction ended: `committed` false forgets the head (it was rolled back).
  void Committed(bool committed);

 private:
  Result<int64_t> DataVersion();

  SqliteDb& db_;
  std::optional<ChainHead> head_;  // valid while data_version_ is the connection's
  int64_t data_version_ = -1;
  bool moved_ = false;  // in this transaction
};

}  // namespace runbook
