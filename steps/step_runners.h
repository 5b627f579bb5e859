// The real step runners: one per action kind, and the dispatcher the cli hands to the
// executor.
#pragma once

#include <memory>
#include <optional>
#include <string>

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
std::unique_ptr<StepRunner> MakeKubectlRunner();

/// Dispatches each request to the runner of its action's kind.
std::unique_ptr<StepRunner> MakeStepRunner();

/// The start callback of a step's local processes (shell, kubectl): records process_started
/// (the child, its group and its identity; `command` for kubectl) before the command runs, so
/// that `runbook recover` can end the group if the executor dies. A process of a step in
/// `phase` precheck, step or verify whose record cannot be written does not run (write-ahead);
/// a rollback action's runs anyway, as the executor runs rollback actions it cannot record:
/// undoing is safer than leaving a half-done change. `context` must outlive the callback.
ProcessStartCallback RecordProcessStarted(StepContext& context, Phase phase,
                                          std::optional<std::string> command = std::nullopt);

}  // namespace runbook
