// One row of the `events` table as a store reads it, before anything in it is parsed: the
// verification hashes it as it is stored where it can (hash_chain.h CanonicalEventText), and
// it becomes a StoredEvent for everything else. Both stores (SQLite, PostgreSQL) read their
// rows into it, so that they turn them into events in exactly the same way.
#pragma once

#include <cstdint>
#include <string_view>

#include "audit/audit_records.h"

namespace runbook {

/// The columns of one events row. The views point into the store's current row and are valid
/// until the store reads the next one.
struct EventRow {
  int64_t seq = 0;
  std::string_view run_id;
  std::string_view ts;
  std::string_view event;
  std::string_view phase;
  std::string_view step;
  std::string_view from;  // column from_state
  std::string_view to;    // column to_state
  int attempt = 0;
  /// Whether the attempt column held an integer (in SQLite it may hold text; `attempt` is then
  /// what SQLite makes of it).
  bool attempt_is_integer = true;
  std::string_view detail;  // the stored text, as it is
  std::string_view prev_hash;
  std::string_view hash;
};

/// The event `row` holds. `detail_ok` says whether its detail text parsed as JSON; when not,
/// detail holds the raw text as a JSON string, so that nothing is lost.
StoredEvent ToStoredEvent(const EventRow& row, bool* detail_ok);

}  // namespace runbook
