// The exit codes of `runbook` (SPEC §4), and the one place that maps what happened to them:
// a run's terminal state, or the kind of the error that stopped a command. Every command's
// exit code comes from here, so that, say, a busy database can never end as "tampered".
#pragma once

#include "engine/state_machine.h"
#include "engine/status.h"

namespace runbook {

enum ExitCode : int {
  kExitOk = 0,               // succeeded
  kExitRolledBack = 1,       // a step or check failed (or interrupted) and it was rolled back
  kExitInvalid = 2,          // invalid runbook or usage, unknown id: nothing ran
  kExitRollbackFailed = 3,   // a rollback action failed, or audit records could not be written
  kExitRefused = 4,          // approval missing or rejected, lock held, database busy
  kExitPrecheckFailed = 5,   // a precheck failed: nothing changed
  kExitTampered = 6,         // the audit log is damaged or was tampered with
};

/// The exit code of a run that ended in `terminal`: succeeded 0, rolled_back 1,
/// rollback_failed 3, aborted 5. A non-terminal state (a run cut short) is 1.
ExitCode ExitCodeFor(StateKind terminal);

/// The exit code of a command that stopped on `status`: invalid input and unknown ids 2,
/// refusals and a busy database 4, corruption 6, anything else 2. Ok is 0.
ExitCode ExitCodeFor(const Status& status);

}  // namespace runbook
