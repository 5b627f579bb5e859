// Rows of the audit database as the store returns them to its readers (the CLI's `runs`,
// `replay`, `report`, `audit export`, `recover`). Timestamps stay in their stored text form
// (RFC 3339 UTC with milliseconds, see audit_time.h) so that what is printed and hashed is
// exactly what is on disk.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/events.h"

namespace runbook {

/// One row of the `events` table: one link of the hash chain (docs/audit.md).
struct StoredEvent {
  int64_t seq = 0;  // 1, 2, 3, ... across the whole database; never reused
  std::string run_id;
  std::string ts;     // RFC 3339 UTC, ms
  std::string event;  // the kind's name as stored (engine/events.h); may be one unknown here
  std::string phase;  // precheck | step | verify | rollback | run
  std::string step;   // step id, or "" for run-level events
  std::string from;   // column from_state
  std::string to;     // column to_state
  int attempt = 0;
  nlohmann::json detail = nlohmann::json::object();
  std::string prev_hash;  // hash of event seq-1 (64 zeros for seq 1)
  std::string hash;       // sha256_hex(prev_hash || canonical event)

  /// The event's kind; nullopt for a name this version does not know.
  std::optional<EventKind> kind() const { return ParseEventKind(event); }
  bool is(EventKind k) const { return event == EventName(k); }
  /// The engine's view of this event, for engine/run_history.h.
  EventView view() const { return {seq, kind(), phase, step, from, to, attempt, detail}; }
};

/// The engine's views of `events`, in the same order.
inline std::vector<EventView> ViewsOf(const std::vector<StoredEvent>& events) {
  std::vector<EventView> views;
  views.reserve(events.size());
  for (const StoredEvent& e : events) views.push_back(e.view());
  return views;
}

/// One row of the `runs` table.
struct StoredRun {
  std::string run_id;
  std::string runbook;
  std::string runbook_path;
  std::string runbook_text;  // empty in ListRuns(); filled by GetRun()
  std::string runbook_sha256;
  nlohmann::json params = nlohmann::json::object();
  std::string operator_name;  // column `operator`
  std::string host;
  int pid = 0;
  std::string lock_key;
  std::string plan_id;  // "" when run without a plan
  bool dry_run = false;
  std::string started_at;   // RFC 3339 UTC, ms
  std::string finished_at;  // "" while the run has not ended
  std::string state;        // terminal state; "" while the run has not ended
  std::optional<int> exit_code;

  bool finished() const { return !finished_at.empty() || !state.empty(); }
};

/// What `runbook audit verify` reports.
struct VerifyReport {
  bool ok = true;
  int64_t events_checked = 0;
  /// The first bad event's seq; 0 when ok or when the fault is not one event's (corrupt file).
  int64_t bad_seq = 0;
  /// Why, naming the event: "event 17: hash does not match its contents (edited?)". "" if ok.
  std::string problem;
  /// The last event's seq and hash (the chain head) when ok; 0 and "" for an empty log.
  int64_t head_seq = 0;
  std::string head_hash;
};

}  // namespace runbook
