// `runbook recover` (SPEC §2, §5): finishes the runs whose executor died. For each unfinished
// run whose process is gone it ends any surviving process group of the interrupted step, with
// every descendant of its leader (the group, its leader's pid, boot id and start time are in
// the audit log before the step's command starts; a group is signalled only while its leader
// is provably that process, so never after a reboot or once its id was reused), rebuilds what
// the run had learned (step outputs, hosts reached, recorded revisions) from the audit log,
// and lets the executor walk the rest of the state machine as an interruption: roll back,
// finish the run, free the lock.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_database.h"
#include "engine/environment.h"
#include "engine/events.h"
#include "engine/executor.h"
#include "engine/reporter.h"

namespace runbook {

/// What recover did with one unfinished run.
struct RecoveredRun {
  std::string run_id;
  bool recovered = false;  // rolled back and finished; `summary` says how it ended
  RunSummary summary;
  Status status;           // why it was left alone or could not be recovered
  std::string kept_for_rollback;  // as in RunResult
};

struct RecoverReport {
  std::vector<RecoveredRun> runs;
  /// The exit code: the worst of the recovered runs' and the failures' codes; 0 when there
  /// was nothing to do.
  int exit_code = 0;
  int recovered() const;
};

class RecoverService {
 public:
  /// Progress for the person watching ("stopping process group 123 of the interrupted step").
  using NoteSink = std::function<void(std::string_view)>;

  /// Every reference must outlive the service.
  RecoverService(AuditStore& db, const Environment& env, NoteSink notes);

  /// Recovers every unfinished run of this host whose executor is gone, reporting each
  /// resumed run to `reporter`, as `operator_name`.
  RecoverReport RecoverAll(Reporter& reporter, const std::string& operator_name);

 private:
  RecoveredRun RecoverOne(const StoredRun& listed, Reporter& reporter,
                          const std::string& operator_name);
  /// Ends the process groups the interrupted step started (and their leaders' descendants),
  /// SIGTERM, then SIGKILL after `grace`; says why it leaves a recorded group alone.
  void StopInterruptedProcesses(const std::vector<ProcessStartedDetail>& processes, Duration grace);

  AuditStore& db_;
  const Environment& env_;
  NoteSink notes_;
};

}  // namespace runbook
