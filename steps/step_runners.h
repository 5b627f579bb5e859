// The real step runners: one per action kind, and the dispatcher the cli hands to the
// executor.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/executor.h"
#include "engine/model.h"
#include "engine/step_runner.h"
#include "steps/process.h"

namespace runbook {

/// `/bin/sh -c` in its own process group (shell_runner.cc).
std::unique_ptr<StepRunner> MakeShellRunner();
/// libcurl requests with status, body and JSON checks (http_runner.cc).
std::unique_ptr<StepRunner> MakeHttpRunner();
/// libssh2 fan-out over a target's hosts (ssh_runner.cc).
std::unique_ptr<StepRunner> MakeSshRunner();
/// The real kubectl with a target's kubeconfig, context and namespace (kubectl_runner.cc).
/// `restore_dir`: where the earlier form of objects that must stay out of the audit log (a
/// Secret) is kept for `rollback: auto`, in a folder per run (see steps/kubectl_history.h);
/// empty: nowhere, and such objects cannot be put back (the run says so).
std::unique_ptr<StepRunner> MakeKubectlRunner(std::string restore_dir = "");

struct StepRunnerOptions {
  std::string restore_dir;  // MakeKubectlRunner
};

/// Dispatches each request to the runner of its action's kind.
std::unique_ptr<StepRunner> MakeStepRunner(const StepRunnerOptions& options = {});

/// The folder of one run's kept objects under `restore_dir`; a run removes it when it is over
/// and nothing is left to put back (succeeded, rolled back).
std::string RunRestoreDir(const std::string& restore_dir, const std::string& run_id);

/// After a run: removes its folder of kept objects when the run ended succeeded, rolled_back
/// or aborted (nothing is left to put back) and returns ""; otherwise (rollback_failed, or a
/// run cut short) returns the folder if it exists, for the operator who must finish by hand.
std::string ForgetKeptObjects(const std::string& restore_dir, const RunSummary& summary);

/// The start callback of a step's local processes (shell, kubectl): records process_started
/// (the child, its group and its identity; `command` for kubectl) before the command runs, so
/// that `runbook recover` can end the group if the executor dies. A process of a step in
/// `phase` precheck, step or verify whose record cannot be written does not run (write-ahead);
/// a rollback action's runs anyway, as the executor runs rollback actions it cannot record:
/// undoing is safer than leaving a half-done change. `context` must outlive the callback.
ProcessStartCallback RecordProcessStarted(StepContext& context, Phase phase,
                                          std::optional<std::string> command = std::nullopt);

}  // namespace runbook
