// The real step runners: one per action kind, and the dispatcher the cli hands to the
// executor.
#pragma once

#include <memory>

#include "engine/step_runner.h"

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

}  // namespace runbook
