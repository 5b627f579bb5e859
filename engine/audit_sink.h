// Where the executor writes its record of a run. The executor makes each event durable before
// the action it announces (write-ahead): it queues events (Queue) and makes them durable
// together (Sync) right before it acts; Append is durable on return. The SQLite and
// PostgreSQL implementations live in audit/.
//
// Durable need not mean "in the store": when the store cannot be written (a full disk), an
// implementation may keep a record in a journal of its own, synced, and write it into the
// store later (SPEC §5 "Full disks and busy databases"). Append then succeeds, and Backlog()
// says how many records took that way, so that the run can say so.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/status.h"

namespace runbook {

/// The run row: what was run, by whom, where. Secrets are already redacted.
struct RunRecord {
  std::string run_id;
  std::string runbook;         // the runbook's name
  std::string runbook_path;
  std::string runbook_text;    // exact file contents
  std::string runbook_sha256;  // of runbook_text
  nlohmann::json params = nlohmann::json::object();  // name -> value (secret params: "***")
  std::string operator_name;
  std::string host;
  int pid = 0;
  std::string lock_key;
  std::string plan_id;         // empty when run without a plan
  bool dry_run = false;
  std::chrono::system_clock::time_point started_at;
};

/// One state transition or step event (SPEC §3; kinds and details in engine/events.h).
/// `seq`, `prev_hash` and `hash` are assigned by the sink, which stores `event` by its name.
struct AuditEvent {
  std::chrono::system_clock::time_point ts;
  EventKind event = EventKind::kRunStarted;
  std::string phase;   // precheck | step | verify | rollback | run
  std::string step;    // step id, or "" for run-level events
  std::string from;    // state names, or ""
  std::string to;
  int attempt = 0;     // 0 for events outside an attempt
  nlohmann::json detail = nlohmann::json::object();
};

/// What became of the records of one run that could not go straight into the store.
struct AuditBacklog {
  /// Durable in the journal, to be written into the store when it can be written again.
  int journaled = 0;
  /// Refused (Append or EndRun returned an error) and still held in this process's memory.
  int held = 0;
  /// Refused at first, then made durable after all (in the journal or the store).
  int rescued = 0;
  std::string journal;        // the journal file
  std::string store_error;    // why the store could not be written (the first such error)
  std::string journal_error;  // why the journal could not be written either, if it could not
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  /// Stores the run row. Called once, before the first event of the run.
  virtual Status BeginRun(const RunRecord& run) = 0;
  /// Appends one event to the hash chain; durable on return, with every event queued before.
  virtual Status Append(const std::string& run_id, const AuditEvent& event) = 0;
  /// Appends one event that need not be durable yet: it becomes durable, in order, with the
  /// next Sync, Append or EndRun, in one commit with the others queued since the last one. The
  /// executor queues every event and calls Sync before each action (write-ahead: what
  /// announces an action is durable before it starts), so that a step costs one or two commits
  /// rather than one per event (docs/audit.md "Commits"). Errors an implementation finds at
  /// once (an unknown run) may be returned here; the others come from Sync. By default the
  /// event is appended at once: a sink that does not batch is never less durable.
  virtual Status Queue(const std::string& run_id, const AuditEvent& event) {
    return Append(run_id, event);
  }
  /// Makes every queued event durable. Not ok when some could not be made durable; then
  /// `*not_durable` (when not null) is how many of those queued since the last Sync are not
  /// (held in memory, refused), as Append would have failed for each.
  virtual Status Sync(int* not_durable) {
    if (not_durable) *not_durable = 0;
    return Status::Ok();
  }
  /// Stores the terminal state on the run row (the run_finished event carries it too).
  /// `finished_at` is the executor's Environment::Now().
  virtual Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                        std::chrono::system_clock::time_point finished_at) = 0;
  /// The records of `run_id` that did not go straight into the store. A sink without a
  /// journal has none: what it cannot store, Append and EndRun refuse.
  virtual AuditBacklog Backlog(const std::string& run_id) const {
    (void)run_id;
    return {};
  }
};

}  // namespace runbook
