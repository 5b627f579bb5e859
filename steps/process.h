// Runs one child process the way a deployment step needs it (ninja's subprocess-posix): in its
// own process group, stdin from /dev/null, stdout and stderr drained together by one poll()
// loop (no output size can deadlock), streamed line by line, the last bytes of each kept.
// The child waits before exec until the caller has recorded it (`on_started`), so that no
// command ever runs that a recovery could not find; a shell can instead start up meanwhile and
// wait after exec, in front of its script (ProcessSpec::waits_at_own_gate). A timeout or the cancel
// descriptor ends the whole group and every descendant of the child, also those that left the group
// or the session (setsid): SIGTERM, then SIGKILL after the grace period. Shared by the shell and
// kubectl runners. docs/processes.md describes the whole life of a step's processes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/status.h"
#include "steps/process_tree.h"

namespace runbook {

/// What to run and how long it may take.
struct ProcessSpec {
  /// argv[0] is an absolute or relative path (contains '/'), or a name looked up in PATH (the
  /// PATH of `env_add` if it sets one, else ours).
  std::vector<std::string> argv;
  /// Working directory; empty: ours. Must exist.
  std::string cwd;
  /// Added to (or replacing in) our environment for the child.
  std::map<std::string, std::string> env_add;
  /// 0: no timeout.
  Duration timeout{0};
  /// After SIGTERM, how long the group has before SIGKILL.
  Duration kill_grace{5000};
  /// After the direct child has exited, how long to keep reading for EOF from processes that
  /// still hold stdout or stderr (a backgrounded grandchild). They are left alone afterwards
  /// unless the group was being terminated.
  Duration eof_grace{500};
  /// A file to read stdin from; empty: /dev/null.
  std::string stdin_file;
  /// The child stays in the caller's process group instead of leading its own, so that it
  /// can prompt at the terminal (ssh-keygen asking for a passphrase) and gets the operator's
  /// Ctrl-C with us. Signals then go to the child alone; pgid is reported as -1.
  bool foreground = false;
  /// How many bytes of each stream ProcessResult keeps (the tail).
  size_t tail_bytes = 64 * 1024;
  /// Longest line handed to the line callback; longer output is delivered in pieces.
  size_t max_line = 4096;
  /// The program waits at the gate itself, so that it starts up while `on_started` records
  /// it: it is exec'd before on_started is called, finds its end of the gate at descriptor
  /// kProgramGateFd, and must read a line there before it acts, and exit without acting at
  /// end-of-file. Only for `/bin/sh -c` with a script from GatedShellScript(): any other
  /// program would act at once.
  bool waits_at_own_gate = false;
};

/// The descriptor at which a program that waits at its own gate finds it.
inline constexpr int kProgramGateFd = 3;

/// `script` for `/bin/sh -c` with ProcessSpec::waits_at_own_gate: the wait at the gate (one
/// line read from kProgramGateFd, or exit 125 at end-of-file), the gate closed, then the script.
/// All on the script's first line, so that the shell numbers the script's lines as before.
std::string GatedShellScript(std::string_view script);

/// What happened. Filled whatever the outcome.
struct ProcessResult {
  /// The command never ran: missing cwd or program, a failure to start the child or to exec,
  /// or `on_started` failed; `error` says why. pid and pgid are set when a child was started
  /// (it then ended before or at exec).
  bool spawn_failed = false;
  std::string error;
  /// The exit code, or 128+signal when a signal ended the child; -1 if unknown.
  int exit_status = -1;
  /// The signal that ended the direct child, or 0.
  int term_signal = 0;
  bool timed_out = false;   // the timeout expired and the group was terminated
  bool cancelled = false;   // cancel_fd became readable and the group was terminated
  bool sigkill_sent = false;  // the group outlived kill_grace after SIGTERM
  std::string stdout_tail;  // the last tail_bytes of stdout, raw
  std::string stderr_tail;
  size_t stdout_bytes = 0;  // total bytes read from each stream
  size_t stderr_bytes = 0;
  Duration duration{0};     // from spawn to the end of draining
  pid_t pid = -1;           // the direct child
  pid_t pgid = -1;          // its process group (== pid: the child leads its group); -1 when
                            // it ran in the foreground (ProcessSpec::foreground)

  /// Ran, finished by itself, exit status 0.
  bool ok() const { return !spawn_failed && !timed_out && !cancelled && exit_status == 0; }
};

/// Called once per line of output (without '\n'); `is_stderr` tells the stream, `continues`
/// that the line was longer than max_line and goes on in the next call. Called on the thread
/// that runs RunProcess.
using ProcessLineCallback =
    std::function<void(bool is_stderr, std::string_view line, bool continues)>;
/// Called once the child exists, leads its process group (`pgid`; -1 in the foreground) and
/// waits before exec (or, with ProcessSpec::waits_at_own_gate, after it): the command starts
/// only after this returns ok, so that what it records (the `process_started` event) is
/// durable before the command runs. A non-ok Status ends the
/// child without running the command, and RunProcess returns spawn_failed with that error.
using ProcessStartCallback = std::function<Status(const ProcessIdentity& child, pid_t pgid)>;

/// Runs `spec` to completion and reaps it. `cancel_fd` (or -1) is polled for readability and is
/// never read from. Both callbacks may be empty. Blocks the calling thread; never throws.
/// Thread-safe: several threads may run processes at once.
///
/// The first call makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), so that a
/// step's orphaned descendants are re-parented to it instead of init, and a timeout or a
/// cancellation can still find and end them (ProcessTree). A process that ends by itself is
/// not followed further: what it deliberately left running (a daemon) keeps running.
ProcessResult RunProcess(const ProcessSpec& spec, int cancel_fd,
                         const ProcessLineCallback& on_line = {},
                         const ProcessStartCallback& on_started = {});

}  // namespace runbook
