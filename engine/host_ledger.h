// What became of each SSH host of a run, folded from the run's audit events (engine/events.h):
// where a host failed, whether that step's rollback ran there and succeeded, which later
// steps left it out, and per host how many steps went well or not (the console's recap).
//
// One fold for every reader, so that they cannot disagree: the executor feeds it each event
// it writes (and decides from it which hosts a later step leaves out and where a rollback
// action already ran); `recover` folds the recorded events into the same state
// (engine/run_history.h); `runs`, `replay` and the report list the failed hosts from it.
//
// The events it reads: rollback_started (`undoes`, `only_hosts`), attempt_started,
// host_finished, host_failed, host_skipped and the step ends. A host is named as the target
// of the step writes it ("web1", "web2:2222").
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/events.h"

namespace runbook {

/// A host where a precheck, step or verification check over ssh failed.
struct FailedHost {
  std::string step;   // the step it failed in
  std::string phase;  // precheck | step | verify
  std::string host;
  std::string error;
  int exit_status = -1;
  bool reached = false;  // a session was established: something may have changed there
  /// The step went on without it (within max_fail, a host_failed record): the step's ssh
  /// rollback ran there at once and later steps left it out.
  bool within_max_fail = false;
  /// Every ssh rollback action of the step that ran on this host succeeded there (at once,
  /// or in the run's rollback); false when none ran there.
  bool rolled_back = false;
  std::string rollback_error;  // the last failure of such an action there, if any
};

/// One host's counts over a run, for the recap.
struct HostTally {
  std::string host;
  int ok = 0;               // prechecks, steps and checks that succeeded there
  int failed = 0;           // ... that failed there
  int skipped = 0;          // ... that left it out (it had failed earlier)
  int rolled_back = 0;      // rollback actions that succeeded there
  int rollback_failed = 0;  // rollback actions that failed there
};

/// {"step", "phase", "host", "error", "exit_status", "reached", "within_max_fail",
/// "rolled_back", "rollback_error" (when not empty)}: `run --json`, `runs --json`, `replay
/// --json` list failed hosts so.
void to_json(nlohmann::json& j, const FailedHost& f);
/// {"host", "ok", "failed", "skipped", "rolled_back", "rollback_failed"}.
void to_json(nlohmann::json& j, const HostTally& t);

/// Whether two host specs of ssh targets ("web1", "web1:22", "[::1]:2222") name the same
/// host and port; each spec without a port takes its target's `port`. Host names compare
/// case-insensitively; a spec that does not parse compares as written.
bool SameSshHost(std::string_view a, int a_port, std::string_view b, int b_port);

/// The fold. Not thread-safe: the executor feeds it under its own lock.
class HostLedger {
 public:
  /// The kinds of event Add reads: a reader may fold only those.
  static const std::vector<EventKind>& Kinds();
  /// Folds one event; events must come in seq order. Other kinds are ignored.
  void Add(const EventView& event);

  /// Every failed host, in the order the failures were recorded.
  std::vector<FailedHost> FailedHosts() const;
  /// Per host, by host name.
  std::vector<HostTally> Tally() const;
  /// The hosts later steps leave out: each that failed within max_fail, with the step it
  /// failed in, in the order they failed.
  const std::vector<std::pair<std::string, std::string>>& LeftOut() const { return left_out_; }
  /// The hosts where rollback action `action` already succeeded when it ran at once for the
  /// failed hosts of its step: the run's rollback does not run it there again.
  std::set<std::string> UndoneAtOnce(const std::string& action) const;
  /// The hosts step `step` left out (host_skipped in its own phase): its rollback has
  /// nothing to undo there, even when no result of the step was recorded.
  std::set<std::string> LeftOutBy(const std::string& step) const;
  /// True when no ssh host appeared in the run.
  bool empty() const { return tally_.empty(); }

 private:
  struct HostOutcome {
    bool ok = false;
    bool reached = false;
    int exit_status = -1;
    std::string error;
  };
  struct RollbackRun {
    std::string undoes;
    bool at_once = false;  // only_hosts: run at once for failed hosts
  };
  using StepKey = std::pair<std::string, std::string>;  // phase, step

  HostTally& TallyOf(const std::string& host);
  void EndStep(const EventView& event, EventKind kind);

  std::map<StepKey, std::map<std::string, HostOutcome>> attempt_hosts_;  // the last attempt
  std::map<std::string, RollbackRun> rollbacks_;  // rollback action id -> its last start
  // (undone step, host) -> rollback action -> how it ended there (its last run)
  std::map<std::pair<std::string, std::string>, std::map<std::string, HostOutcome>> undo_;
  std::map<std::string, std::set<std::string>> undone_at_once_;  // action -> hosts
  std::map<std::string, std::set<std::string>> left_out_by_;     // forward step -> hosts
  std::vector<FailedHost> failed_;
  std::vector<std::pair<std::string, std::string>> left_out_;  // host, step
  std::map<std::string, HostTally> tally_;
};

}  // namespace runbook
