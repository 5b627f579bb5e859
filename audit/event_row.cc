#include "audit/event_row.h"

#include <optional>
#include <string>
#include <utility>

#include "audit/hash_chain.h"

namespace runbook {

StoredEvent ToStoredEvent(const EventRow& row, bool* detail_ok) {
  StoredEvent e;
  e.seq = row.seq;
  e.run_id = row.run_id;
  e.ts = row.ts;
  e.event = row.event;
  e.phase = row.phase;
  e.step = row.step;
  e.from = row.from;
  e.to = row.to;
  e.attempt = row.attempt;
  std::optional<nlohmann::json> parsed = ParseStoredJson(row.detail);
  *detail_ok = parsed.has_value();
  e.detail = parsed ? std::move(*parsed) : nlohmann::json(std::string(row.detail));
  e.prev_hash = row.prev_hash;
  e.hash = row.hash;
  return e;
}

}  // namespace runbook
