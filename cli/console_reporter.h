// Progress for the person at the terminal: one line per attempt, live output prefixed with
// the step (and host), phase banners, and a closing line that says what to do next.
#pragma once

#include <cstdio>
#include <memory>

#include "engine/reporter.h"

namespace runbook {

/// Writes to `out` (stdout normally; stderr when stdout carries --json). Colour only on a
/// terminal and never when NO_COLOR is set.
std::unique_ptr<Reporter> MakeConsoleReporter(std::FILE* out);

}  // namespace runbook
