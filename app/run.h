// Running a runbook (SPEC §2, §4): load it and bind its params and secrets, pass the approval
// gate, take the run lock, compile, execute, release the lock. Two calls, so that a face can
// do what only it can do in between (the command line installs its signal handlers once the
// run holds its lock): Prepare() checks everything and takes the lock; Execute() runs.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/inputs.h"
#include "audit/audit_database.h"
#include "engine/environment.h"
#include "engine/executor.h"
#include "engine/reporter.h"

namespace runbook {

class LogSink;
class Signer;

struct RunRequest {
  std::unique_ptr<Runbook> runbook;           // loaded and validated (inputs.h)
  std::map<std::string, std::string> params;  // bound
  std::string file;                           // as the operator named it, for messages
  std::string plan_id;                  // the approved plan to run, or ""
  std::string operator_name;
  bool dry_run = false;
  /// Checklist items the operator confirmed (--confirm ITEM, or asked on a terminal).
  std::vector<std::string> confirmed;
};

/// The runbook's checklist items not in `confirmed`, in the runbook's order.
std::vector<std::string> UnconfirmedItems(const Runbook& runbook,
                                          const std::vector<std::string>& confirmed);

/// A run that passed every check and holds its lock (unless a dry run). Releases the lock
/// when destroyed without having run.
class PreparedRun {
 public:
  ~PreparedRun();
  PreparedRun(const PreparedRun&) = delete;
  PreparedRun& operator=(const PreparedRun&) = delete;

  const Runbook& runbook() const { return *runbook_; }
  const std::string& run_id() const { return options_.run_id; }

 private:
  friend class RunService;
  PreparedRun(LockStore& locks, std::unique_ptr<Runbook> runbook, RunOptions options,
              bool locked);
  Status Unlock(bool* journaled = nullptr);

  LockStore& locks_;
  std::unique_ptr<Runbook> runbook_;
  RunOptions options_;
  bool locked_;
};

/// What Prepare() found.
struct RunStart {
  Status status;                   // why the run cannot start; its kind decides the exit code
  std::vector<std::string> notes;  // lines for the operator ("plan P approved by ...")
  std::unique_ptr<PreparedRun> run;  // set when status is ok
};

/// What Execute() did.
struct RunResult {
  RunSummary summary;
  Status unlock_status;  // the lock could not be released (the run's outcome stands)
  /// The release of the lock went to the audit database's journal (a full disk): the lock is
  /// freed when the journal is written into the database, by the next command that opens it.
  bool unlock_journaled = false;
  /// A plan whose run succeeded could not be marked used up.
  Status plan_status;
  /// The folder of objects kept outside the audit log for a rollback (a Secret's earlier
  /// form), left in place because the run did not end cleanly; "" when none is left.
  std::string kept_for_rollback;
  /// The lock's heartbeat failed during the run (a shared store that could not be reached, or
  /// a recover elsewhere that took the lock): what the store said; "" when all was well.
  std::string heartbeat_problem;
};

class RunService {
 public:
  /// Every reference must outlive the service.
  RunService(AuditStore& db, Signer& signer, const Environment& env);

  /// Resolves the runbook's secrets, checks the approval (a runbook with an approval policy
  /// needs --plan, except for a dry run), takes the run lock and sets room aside in the audit
  /// database's journal for the run's records should the disk fill up. Refused (kRefused) when
  /// the lock is held or the approval is missing; kInvalid for a missing secret.
  RunStart Prepare(RunRequest request);

  /// Compiles and runs `run`, reporting to `reporter`; releases the lock at the end. When
  /// `log` is given, each audit record of the run is also written there (app/log_audit_sink.h).
  RunResult Execute(PreparedRun& run, Reporter& reporter, Interruption interruption,
                    LogSink* log = nullptr);

 private:
  AuditStore& db_;
  Signer& signer_;
  const Environment& env_;
};

/// A new run id: UTC time and 6 random hex digits ("20261202T101500Z-3fa9c1").
std::string NewRunId(std::chrono::system_clock::time_point now);

/// `run --json`'s object: run_id, runbook, state, exit_code, dry_run, duration_ms, steps
/// (id, name, phase, state, attempts, duration_ms, error, undoes), failed_hosts (FailedHost,
/// engine/host_ledger.h; empty when none), hosts (the per-host recap, when the run used ssh),
/// error.
nlohmann::json RunSummaryJson(const RunSummary& summary);

}  // namespace runbook
