// Appending one event to the audit database's hash chain (docs/audit.md "Hash chain"), and
// reading the chain head that `meta` records. The event log's verification reads the head;
// the audit writer appends, whether an event comes straight from the executor or from the
// journal of records that waited for the database.
#pragma once

#include <cstdint>
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

/// Links `event` to the chain and inserts it: sets its seq, prev_hash and hash from the
/// current head and moves the head in `meta`. `event` must name a recorded run; its other
/// fields (ts, event, phase, step, from, to, attempt, detail) are stored as they are. Call
/// inside a write transaction (BEGIN IMMEDIATE), so that the head read is the head written.
Status AppendToChain(SqliteDb& db, StoredEvent* event);

}  // namespace runbook
