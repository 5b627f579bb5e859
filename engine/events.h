// The audit event contract: every event a run writes, by name, and what its `detail` carries.
//
// Format. An event is one row of the audit log's hash chain (docs/audit.md): its kind is stored
// by name (the `event` column), with `phase`, `step`, `from`, `to`, `attempt` columns and a
// JSON object `detail`. The names below are on disk and in exported logs; they never change.
//
//   run_started         run      to = pending. RunStartedDetail
//   state_changed       of `to`  a transition; from, to are state names. StateChangedDetail
//   step_started        precheck | step | verify: a step is about to run. StepStartedDetail
//   attempt_started     any      try number `attempt` is about to run. AttemptStartedDetail
//   attempt_finished    any      that try ended. AttemptFinishedDetail
//   step_succeeded      precheck | step | verify. StepEndDetail
//   step_failed         precheck | step | verify (also: interrupted). StepEndDetail
//   step_skipped        verify | rollback: not run (dry run). StepSkippedDetail
//   rollback_started    rollback: a rollback action is about to run. StepStartedDetail
//   rollback_succeeded  rollback. StepEndDetail
//   rollback_failed     rollback. StepEndDetail
//   run_finished        run      to = the terminal state. RunFinishedDetail
//   run_recovered       run      `runbook recover` took the run over. RunRecoveredDetail
// Written by step runners inside an attempt (same phase, step and attempt):
//   process_started     a local child process started. ProcessStartedDetail
//   host_finished       one SSH host finished. HostFinishedDetail
// Written by the executor about SSH hosts (docs/ssh.md "When a host fails"):
//   host_failed         precheck | step | verify, after the attempt that succeeded although
//                       this host failed (within max_fail): the step's ssh rollback runs on it
//                       next, and later steps leave it out. HostFailedDetail
//   host_skipped        any phase, just before step_started / rollback_started: this host of
//                       the target is left out (it failed in an earlier step, or the step's
//                       rollback already ran there). HostSkippedDetail
//   kubectl_target      the cluster endpoint a kubectl step talks to (steps/kubectl_command.h)
//   kubectl_revisions   workload revisions recorded before an apply: context, objects
//   kubectl_undo        one workload undone to its recorded revision
// Written by `runbook plans prune` in its own maintenance record (a run row named
// "(plans prune)", app/plan_history.h; docs/history.md):
//   plans_pruned        run      the pending plans marked `pruned`: detail {older_than,
//                       cutoff, plans: [{plan_id, hash, runbook, requested_by, created_at}]}
// Written by the app layer about notifications (docs/notifications.md):
//   notify_sent         run      a webhook of `notify:` answered 2xx. NotificationDetail
//   notify_failed       run      a webhook could not be told (the run goes on). NotificationDetail
//
// Detail keys are written exactly as the records' to_json write them. Readers are tolerant:
// a log may hold names this version does not know (ParseEventKind gives nullopt) and from_json
// gives a field's default when its key is missing or of another type; it never throws. New
// kinds and keys may be added; the existing ones keep their meaning.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/bound_file.h"

namespace runbook {

/// Every kind of audit event. Switches over it have no default: a new kind shows every place
/// that must handle it.
enum class EventKind {
  kRunStarted,
  kStateChanged,
  kStepStarted,
  kAttemptStarted,
  kAttemptFinished,
  kStepSucceeded,
  kStepFailed,
  kStepSkipped,
  kRollbackStarted,
  kRollbackSucceeded,
  kRollbackFailed,
  kRunFinished,
  kRunRecovered,
  kProcessStarted,
  kHostFinished,
  kKubectlTarget,
  kKubectlRevisions,
  kKubectlUndo,
  kHostFailed,
  kHostSkipped,
  kPlansPruned,
  kNotificationSent,
  kNotificationFailed,
  /// An approver's action on `runbook serve` (login, approve, reject) or its refusal, in a
  /// record of its own (app/web_record.h).
  kWebAction,  // the last kind: keep kEventKindCount in step
};
inline constexpr int kEventKindCount = static_cast<int>(EventKind::kWebAction) + 1;

/// The stored name of `kind` (e.g. step_failed): the one place event names are spelled.
std::string_view EventName(EventKind kind);
/// The kind named `name`; nullopt for a name this version does not know.
std::optional<EventKind> ParseEventKind(std::string_view name);

/// step_succeeded, step_failed, step_skipped, rollback_succeeded, rollback_failed: the events
/// that end a step (or a rollback action) in its phase.
bool IsStepEnd(EventKind kind);
/// The step ends that mean success: step_succeeded, rollback_succeeded, step_skipped.
bool IsStepSuccess(EventKind kind);

/// One stored event as the engine reads it back (audit's StoredEvent converts to it), so that
/// engine code can fold a run's history without depending on the audit store.
struct EventView {
  int64_t seq = 0;
  std::optional<EventKind> kind;  // nullopt: a name this version does not know
  std::string phase;
  std::string step;
  std::string from;
  std::string to;
  int attempt = 0;
  nlohmann::json detail = nlohmann::json::object();
};

// ----------------------------------------------------------------------------- details
// Each record lists the keys its event's detail carries. Optional fields are written only
// when set; the comments say when the executor sets them.

/// run_started.
struct RunStartedDetail {
  std::string runbook;
  std::string operator_name;  // key "operator"
  std::string host;
  int pid = 0;
  bool dry_run = false;
  nlohmann::json params = nlohmann::json::object();  // redacted
  std::string plan_id;
  std::string lock;
  /// sha256 of the runbook text stored in the runs row: binds the row into the chain.
  std::string runbook_sha256;
  /// The runbook's checklist items, each as confirmed (key "checklist": [{item, confirmed_by}]).
  std::vector<std::pair<std::string, std::string>> checklist;
  /// The files the run uses, with their sha256 when it started (engine/bound_file.h);
  /// written when not empty.
  std::vector<BoundFile> files;
  bool operator==(const RunStartedDetail&) const = default;
};

/// state_changed.
struct StateChangedDetail {
  std::string trigger;  // start | success | failure | interrupt
  bool operator==(const StateChangedDetail&) const = default;
};

/// step_started and rollback_started.
struct StepStartedDetail {
  std::string name;
  std::string action;       // shell | ssh | kubectl | http
  std::string description;  // the rendered command, redacted
  int max_attempts = 1;
  int64_t timeout_ms = 0;
  std::string undoes;          // rollback actions: the step undone; written when not empty
  bool auto_rollback = false;  // key "auto"; written when true (`rollback: auto`)
  bool dry_run = false;        // written when true
  /// Rollback actions run at once on the hosts where the step they undo failed within
  /// max_fail: those hosts (key "only_hosts"); written when not empty.
  std::vector<std::string> only_hosts;
  bool operator==(const StepStartedDetail&) const = default;
};

/// attempt_started.
struct AttemptStartedDetail {
  std::string description;
  bool operator==(const AttemptStartedDetail&) const = default;
};

/// One SSH host in attempt_finished's `hosts`.
struct HostDetail {
  std::string host;
  bool ok = false;
  bool reached = false;
  int exit_status = -1;
  int64_t duration_ms = 0;
  std::string error;
  /// The step's outputs as this host gave them (also when it failed: what it printed up to
  /// the failure), so that a rollback after a crash sees each host's own values; written
  /// when not empty.
  std::map<std::string, std::string> outputs;
  bool operator==(const HostDetail&) const = default;
};

/// attempt_finished: the runner's own facts (`extra`, e.g. http's status and url) with the
/// executor's on top of them.
struct AttemptFinishedDetail {
  nlohmann::json extra = nlohmann::json::object();  // runner facts; the fields below win
  std::string outcome;                              // succeeded | failed | timed_out | cancelled
  int exit_status = -1;
  int64_t duration_ms = 0;
  std::string error;              // written when not empty
  std::string stdout_tail;        // key "stdout"; written when not empty
  std::string stderr_tail;        // key "stderr"; written when not empty
  std::vector<HostDetail> hosts;  // written when not empty (ssh)
  nlohmann::json undo_state;      // written when not null (kubectl revisions)
  bool operator==(const AttemptFinishedDetail&) const = default;
};

/// step_succeeded, step_failed, rollback_succeeded, rollback_failed. A step the executor died
/// in is ended by `recover` with only `error` and `interrupted`.
struct StepEndDetail {
  std::optional<int> attempts;
  std::optional<int64_t> duration_ms;
  std::optional<int> exit_status;
  std::optional<std::string> error;                           // failures
  bool interrupted = false;                                   // written when true
  std::optional<std::map<std::string, std::string>> outputs;  // successes with outputs
  bool operator==(const StepEndDetail&) const = default;
};

/// step_skipped.
struct StepSkippedDetail {
  std::string reason;
  bool operator==(const StepSkippedDetail&) const = default;
};

/// run_finished. A run_finished written by `recover` for a run that had reached its terminal
/// state carries only state and exit_code.
struct RunFinishedDetail {
  std::string state;
  int exit_code = 0;
  std::optional<int64_t> duration_ms;
  std::optional<std::string> error;
  bool operator==(const RunFinishedDetail&) const = default;
};

/// run_recovered.
struct RunRecoveredDetail {
  std::string operator_name;  // key "operator"
  std::string host;
  int pid = 0;       // the recovering process
  int dead_pid = 0;  // the executor that died
  std::string state;
  bool step_finished = false;
  bool operator==(const RunRecoveredDetail&) const = default;
};

/// process_started: durable before the child runs its command (it waits for this record), so
/// that `recover` can end a surviving process group. boot_id and start_time identify the
/// group's leader (`pid`) beyond pid reuse: `recover` signals the group only while a process
/// with that pid, boot and start time exists. Records written before they existed lack them.
struct ProcessStartedDetail {
  int pid = 0;
  int pgid = 0;                        // -1: the child ran in the executor's own group
  std::string boot_id;                 // /proc/sys/kernel/random/boot_id; written when known
  int64_t start_time = 0;              // /proc/PID/stat field 22 (clock ticks after boot);
                                       // written when known (not 0)
  std::optional<std::string> command;  // kubectl: the command line, redacted
  bool operator==(const ProcessStartedDetail&) const = default;
};

/// host_finished.
struct HostFinishedDetail {
  std::string host;
  int exit_status = -1;
  int64_t duration_ms = 0;
  std::string stdout_tail;
  std::string stderr_tail;
  std::string error;
  bool reached = false;
  /// The host succeeded. Records written before this key existed lack it: readers take
  /// exit status 0 and no error for success (HostFinishedOk).
  std::optional<bool> ok;
  /// The step's outputs as this host gave them, in full (also when it failed): durable as
  /// soon as the host is done, so that a rollback there after a crash sees them. Written
  /// when not empty.
  std::map<std::string, std::string> outputs;
  bool operator==(const HostFinishedDetail&) const = default;
};

/// Whether a host_finished record says the host succeeded (`ok`, else exit 0 and no error).
bool HostFinishedOk(const HostFinishedDetail& d);

/// host_failed.
struct HostFailedDetail {
  std::string host;  // as the step's target writes it
  std::string error;
  int exit_status = -1;
  bool reached = false;  // a session was established: something may have changed there
  bool operator==(const HostFailedDetail&) const = default;
};

/// host_skipped.
struct HostSkippedDetail {
  std::string host;       // as this step's target writes it
  std::string reason;     // for people
  std::string failed_in;  // the step it failed in (left out of later steps); written when set
  std::string undone_by;  // the rollback action that already ran there; written when set
  bool operator==(const HostSkippedDetail&) const = default;
};

/// notify_sent and notify_failed: one webhook of `notify:` told (or not) about
/// one event. Never holds a secret: `target` is the webhook redacted (notify.h).
struct NotificationDetail {
  std::string event;    // the notify event: run_started, succeeded, ...
  std::string target;   // scheme://host/... with the path left out, or *** for a secret
  int status = 0;       // the HTTP status; 0: no answer. Written when not 0
  int64_t duration_ms = 0;
  std::string error;    // notify_failed: why; written when not empty
  bool operator==(const NotificationDetail&) const = default;
};

// nlohmann::json conversions (found by ADL: `nlohmann::json j = detail;`,
// `j.get<StepEndDetail>()`). from_json never throws.
void to_json(nlohmann::json& j, const RunStartedDetail& d);
void from_json(const nlohmann::json& j, RunStartedDetail& d);
void to_json(nlohmann::json& j, const StateChangedDetail& d);
void from_json(const nlohmann::json& j, StateChangedDetail& d);
void to_json(nlohmann::json& j, const StepStartedDetail& d);
void from_json(const nlohmann::json& j, StepStartedDetail& d);
void to_json(nlohmann::json& j, const AttemptStartedDetail& d);
void from_json(const nlohmann::json& j, AttemptStartedDetail& d);
void to_json(nlohmann::json& j, const HostDetail& d);
void from_json(const nlohmann::json& j, HostDetail& d);
void to_json(nlohmann::json& j, const AttemptFinishedDetail& d);
void from_json(const nlohmann::json& j, AttemptFinishedDetail& d);
void to_json(nlohmann::json& j, const StepEndDetail& d);
void from_json(const nlohmann::json& j, StepEndDetail& d);
void to_json(nlohmann::json& j, const StepSkippedDetail& d);
void from_json(const nlohmann::json& j, StepSkippedDetail& d);
void to_json(nlohmann::json& j, const RunFinishedDetail& d);
void from_json(const nlohmann::json& j, RunFinishedDetail& d);
void to_json(nlohmann::json& j, const RunRecoveredDetail& d);
void from_json(const nlohmann::json& j, RunRecoveredDetail& d);
void to_json(nlohmann::json& j, const ProcessStartedDetail& d);
void from_json(const nlohmann::json& j, ProcessStartedDetail& d);
void to_json(nlohmann::json& j, const HostFinishedDetail& d);
void from_json(const nlohmann::json& j, HostFinishedDetail& d);
void to_json(nlohmann::json& j, const HostFailedDetail& d);
void from_json(const nlohmann::json& j, HostFailedDetail& d);
void to_json(nlohmann::json& j, const HostSkippedDetail& d);
void from_json(const nlohmann::json& j, HostSkippedDetail& d);
void to_json(nlohmann::json& j, const NotificationDetail& d);
void from_json(const nlohmann::json& j, NotificationDetail& d);

}  // namespace runbook
