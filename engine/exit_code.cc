#include "engine/exit_code.h"

namespace runbook {

ExitCode ExitCodeFor(StateKind terminal) {
  switch (terminal) {
    case StateKind::kSucceeded: return kExitOk;
    case StateKind::kRolledBack: return kExitRolledBack;
    case StateKind::kRollbackFailed: return kExitRollbackFailed;
    case StateKind::kAborted: return kExitPrecheckFailed;
    case StateKind::kPending:
    case StateKind::kPrecheck:
    case StateKind::kStep:
    case StateKind::kVerify:
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback:
    case StateKind::kRollbackDone: return kExitRolledBack;
  }
  return kExitRolledBack;
}

ExitCode ExitCodeFor(const Status& status) {
  switch (status.kind()) {
    case StatusKind::kOk: return kExitOk;
    case StatusKind::kInvalid:
    case StatusKind::kNotFound:
    case StatusKind::kFailed:
    case StatusKind::kIOError: return kExitInvalid;
    case StatusKind::kRefused:
    case StatusKind::kBusy: return kExitRefused;
    case StatusKind::kCorruption: return kExitTampered;
  }
  return kExitInvalid;
}

}  // namespace runbook
