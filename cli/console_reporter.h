// Progress for the person at the terminal: one line per attempt, live output prefixed with
// the step (and host), phase banners, and a closing line that says what to do next. A step
// that runs long shows its status (cli/step_status.h): a line redrawn in place on a terminal,
// a plain line every so often elsewhere (docs/operations.md, "Progress and colours").
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "cli/step_status.h"
#include "engine/reporter.h"

namespace runbook {

class Environment;

/// How the console reporter writes.
struct ConsoleOptions {
  /// Step lines, notes, the summary and the plain progress lines.
  std::FILE* out = stdout;
  /// The live status line, when `live`: stderr, so that it never lands in a pipe on stdout.
  std::FILE* live_out = stderr;
  /// ANSI colours in what goes to `out`.
  bool color = false;
  /// A status line redrawn in place (carriage return, erase line); false: plain lines only,
  /// no control characters at all.
  bool live = false;
  /// Columns of the terminal the live line is cut to; 0: ask the terminal at each draw.
  int width = 0;
  cli::StepStatus::Timing timing;
  /// The clock the status reads; the steady clock when empty.
  std::function<std::chrono::steady_clock::time_point()> clock;
  /// A thread of the reporter's calls Tick while a step runs; false: the caller does (tests).
  bool ticker = true;
};

/// What the environment asks for when the reporter writes to `out`: colour when `out` is a
/// terminal, NO_COLOR is unset or empty (no-color.org) and TERM is not "dumb"; the live line
/// when stderr is a terminal and TERM is not "dumb"; plain lines every
/// RUNBOOK_PROGRESS_INTERVAL (a duration such as "10s", the default; "0s": none). A value
/// that is not a duration is named in `*warning` and the default used.
ConsoleOptions ConsoleOptionsFor(std::FILE* out, const Environment& env, bool out_is_tty,
                                 bool stderr_is_tty, std::string* warning);

/// The console reporter. Thread-safe: runner threads, the executor and the ticker may call it
/// at once; each line is written whole, the live line cleared before it and redrawn after.
class ConsoleReporter : public Reporter {
 public:
  /// Draws or redraws the live line, or writes a plain progress line, when one is due.
  virtual void Tick() = 0;
};

std::unique_ptr<ConsoleReporter> MakeConsoleReporter(const ConsoleOptions& options);

/// Writes to `out` (stdout normally; stderr when stdout carries --json), with the options the
/// process's environment and terminals ask for (ConsoleOptionsFor).
std::unique_ptr<Reporter> MakeConsoleReporter(std::FILE* out);

}  // namespace runbook
