#include "steps/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "steps/output_buffer.h"
#include "steps/process_spawn.h"

namespace runbook {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

/// One output stream of the child.
struct Stream {
  Stream(UniqueFd f, bool err, const ProcessSpec& spec)
      : fd(std::move(f)), is_stderr(err), tail(spec.tail_bytes), lines(spec.max_line) {}
  UniqueFd fd;
  bool is_stderr;
  TailBuffer tail;
  LineSplitter lines;
};

/// Owns the running child until it is reaped: every exit path, an exception from a callback
/// included, goes through TryReap() or the destructor, which kills the group and reaps.
class RunningChild {
 public:
  // glibc 2.36's <sys/pidfd.h> lacks C++ linkage, hence the raw system call.
  /// `own_group`: the child leads its own process group; signals go to that group and to
  /// every descendant of the child (ProcessTree). Else to the child alone.
  RunningChild(const ProcessIdentity& child, bool own_group)
      : pid_(child.pid),
        own_group_(own_group),
        pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0))),
        tree_(child, /*adopt_orphans=*/true) {}
  RunningChild(const RunningChild&) = delete;
  RunningChild& operator=(const RunningChild&) = delete;
  ~RunningChild() {
    if (reaped_) return;
    Kill();
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    ReapAdopted();
  }

  pid_t pid() const { return pid_; }
  /// Readable once the child has exited (-1 where pidfds are unsupported).
  int exit_fd() const { return reaped_ ? -1 : pidfd_.get(); }
  bool reaped() const { return reaped_; }
  int wait_status() const { return wait_status_; }
  bool status_known() const { return status_known_; }

  /// The one place the child is reaped. Returns true once it has been.
  bool TryReap() {
    if (reaped_) return true;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_known_ = true;
      wait_status_ = status;
    } else if (r < 0 && errno == ECHILD) {
      // Someone else reaped it (SIGCHLD ignored by the executor): gone, status unknown.
      reaped_ = true;
    }
    if (reaped_) pidfd_.Reset();
    return reaped_;
  }

  /// SIGTERM (and SIGCONT) to the whole step: its group and every descendant of the child.
  void Terminate() {
    terminated_ = true;
    if (own_group_) {
      tree_.Terminate();
    } else {
      ::kill(pid_, SIGTERM);
      ::kill(pid_, SIGCONT);
    }
  }
  /// SIGKILL to the whole step.
  void Kill() {
    terminated_ = true;
    if (own_group_) {
      tree_.Kill();
    } else {
      ::kill(pid_, SIGKILL);
    }
  }
  /// No live process is left of the step. Zombies do not count: an orphan that died of our
  /// SIGTERM stays in the group until its new parent reaps it.
  bool Ended() { return own_group_ ? tree_.Ended() : reaped_; }
  /// Once the step was terminated: reaps its descendants that were re-parented to us. A
  /// process SIGKILLed a moment ago may still be dying: give them all a little while.
  void ReapAdopted() {
    if (!own_group_ || !terminated_) return;
    for (int i = 0; i < 50 && !tree_.Ended(); ++i) ::usleep(2000);
    tree_.ReapAdopted();
  }

 private:
  pid_t pid_;
  bool own_group_;
  UniqueFd pidfd_;
  ProcessTree tree_;
  bool terminated_ = false;
  bool reaped_ = false;
  bool status_known_ = false;
  int wait_status_ = 0;
};

int ToMillis(SteadyClock::duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 0) return 0;
  return static_cast<int>(std::min<long long>(ms + 1, 60 * 1000));  // +1: do not wake early
}

/// Reads the child's output until it and its group are done; see RunProcess.
void Drain(const ProcessSpec& spec, int cancel_fd, const ProcessLineCallback& on_line,
           TimePoint start, RunningChild& child, Stream* streams[2], ProcessResult& result) {
  const std::optional<TimePoint> deadline =
      spec.timeout.count() > 0 ? std::optional<TimePoint>(start + spec.timeout) : std::nullopt;
  std::optional<TimePoint> term_at;     // SIGTERM sent to the group
  std::optional<TimePoint> settled_at;  // child reaped and the group ended (or SIGKILLed)
  bool watch_cancel = cancel_fd >= 0;
  std::vector<char> buffer(64 * 1024);

  // Whether the step's processes have ended, looked up at most every 20ms (it scans /proc).
  bool gone = false;
  std::optional<TimePoint> gone_checked;
  auto group_gone = [&](TimePoint now) {
    if (!gone && (!gone_checked || now - *gone_checked >= std::chrono::milliseconds(20))) {
      gone = child.Ended();
      gone_checked = now;
    }
    return gone;
  };

  auto terminate = [&](TimePoint now) {
    if (term_at) return;
    term_at = now;
    child.Terminate();
  };

  for (;;) {
    child.TryReap();
    TimePoint now = SteadyClock::now();
    if (deadline && now >= *deadline && !term_at && !settled_at) {
      result.timed_out = true;
      terminate(now);
    }
    if (term_at && !result.sigkill_sent && now >= *term_at + spec.kill_grace && !child.Ended()) {
      child.Kill();
      result.sigkill_sent = true;
    }
    if (!settled_at && child.reaped() &&
        (!term_at || result.sigkill_sent || group_gone(now))) {
      settled_at = now;
    }
    const bool pipes_open = streams[0]->fd.valid() || streams[1]->fd.valid();
    if (settled_at && (!pipes_open || now >= *settled_at + spec.eof_grace)) return;

    // Sleep until output, exit, cancellation or the next timer.
    std::optional<TimePoint> wake;
    auto wake_by = [&](TimePoint t) { wake = wake ? std::min(*wake, t) : t; };
    if (deadline && !term_at && !settled_at) wake_by(*deadline);
    if (term_at && !result.sigkill_sent) {
      wake_by(*term_at + spec.kill_grace);
      wake_by(now + std::chrono::milliseconds(20));  // to notice the group ending early
    }
    if (settled_at) wake_by(*settled_at + spec.eof_grace);
    if (!child.reaped() && child.exit_fd() < 0) {
      // No pidfd: look at the child regularly; output EOF usually signals its exit anyway.
      wake_by(now + std::chrono::milliseconds(pipes_open ? 50 : 5));
    }
    if (child.reaped() && !settled_at) wake_by(now + std::chrono::milliseconds(10));

    pollfd fds[4];
    int n = 0;
    int stream_index[2] = {-1, -1};
    for (int i = 0; i < 2; ++i) {
      if (!streams[i]->fd.valid()) continue;
      stream_index[i] = n;
      fds[n++] = {streams[i]->fd.get(), POLLIN, 0};
    }
    const int cancel_index = watch_cancel ? n : -1;
    if (watch_cancel) fds[n++] = {cancel_fd, POLLIN, 0};
    if (child.exit_fd() >= 0) fds[n++] = {child.exit_fd(), POLLIN, 0};

    const int timeout_ms = wake ? ToMillis(*wake - now) : -1;
    const int ready = ::poll(fds, n, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      result.error = "poll: " + ErrnoText(errno);
      terminate(SteadyClock::now());
      ::usleep(10 * 1000);
      continue;
    }

    for (int i = 0; i < 2; ++i) {
      if (stream_index[i] < 0 || fds[stream_index[i]].revents == 0) continue;
      Stream& s = *streams[i];
      ssize_t got = ::read(s.fd.get(), buffer.data(), buffer.size());
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      auto sink = [&](std::string_view line, bool continues) {
        if (on_line) on_line(s.is_stderr, line, continues);
      };
      if (got <= 0) {  // EOF (or a read error, which ends the stream the same way)
        s.lines.Flush(sink);
        s.fd.Reset();
        continue;
      }
      std::string_view data(buffer.data(), static_cast<size_t>(got));
      s.tail.Append(data);
      s.lines.Feed(data, sink);
    }
    if (cancel_index >= 0 && fds[cancel_index].revents != 0) {
      watch_cancel = false;  // the byte is never consumed: polling again would spin
      if (!term_at && !settled_at) {
        result.cancelled = true;
        terminate(SteadyClock::now());
      }
    }
  }
}

}  // namespace

std::string GatedShellScript(std::string_view script) {
  static_assert(kProgramGateFd == 3, "the script below names the descriptor");
  return "read -r _ <&3 || exit 125; exec 3<&-; " + std::string(script);
}

ProcessResult RunProcess(const ProcessSpec& spec, int cancel_fd,
                         const ProcessLineCallback& on_line,
                         const ProcessStartCallback& on_started) {
  ProcessResult result;
  const TimePoint start = SteadyClock::now();
  auto finish = [&]() -> ProcessResult {
    result.duration =
        std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
    return std::move(result);
  };

  // Orphans of a step are re-parented to us, not to init, so that ending the step can still
  // find them (ProcessTree). Not inherited by the children.
  static std::once_flag subreaper;
  std::call_once(subreaper, [] { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); });
  const ActiveProcessCall active;

  Result<SpawnedChild> spawned = Spawn(spec);
  if (!spawned.ok()) {
    result.spawn_failed = true;
    result.error = spawned.message();
    return finish();
  }
  result.pid = spawned->pid();
  result.pgid = spec.foreground ? -1 : spawned->pid();

  try {
    // The child waits at its gate, or its shell at its own (waits_at_own_gate): the command
    // does not run yet. ~RunningChild kills and reaps it on every early return below (before
    // ~SpawnedChild, which waits until it has left our memory).
    const ProcessIdentity identity = IdentifyProcess(spawned->pid());
    RunningChild child(identity, !spec.foreground);
    // Belt and braces: the child has made itself the leader of its group already.
    if (!spec.foreground && ::setpgid(spawned->pid(), spawned->pid()) != 0 && errno != EACCES &&
        errno != ESRCH) {
      result.spawn_failed = true;
      result.error = "setpgid: " + ErrnoText(errno);
      return finish();
    }
    if (on_started) {
      Status started = on_started(identity, result.pgid);
      if (!started.ok()) {
        result.spawn_failed = true;
        result.error = started.message();
        spawned->CloseGate();  // the child reads EOF and exits without running the command
        return finish();
      }
    }
    Status released = spawned->Release(spec.argv[0]);
    if (!released.ok()) {
      result.spawn_failed = true;
      result.error = released.message();
      return finish();
    }
    Stream out(spawned->TakeStdout(), false, spec);
    Stream err(spawned->TakeStderr(), true, spec);
    Stream* streams[2] = {&out, &err};
    Drain(spec, cancel_fd, on_line, start, child, streams, result);
    // Output still held open by a process outside the group after eof_grace: deliver what
    // has been read; the holder gets EPIPE (or SIGPIPE) when it writes again.
    for (Stream* s : streams) {
      s->lines.Flush([&](std::string_view line, bool continues) {
        if (on_line) on_line(s->is_stderr, line, continues);
      });
    }
    result.stdout_bytes = out.tail.total();
    result.stderr_bytes = err.tail.total();
    result.stdout_tail = std::move(out.tail).Take();
    result.stderr_tail = std::move(err.tail).Take();
    child.ReapAdopted();
    if (child.status_known()) {
      const int status = child.wait_status();
      if (WIFEXITED(status)) {
        result.exit_status = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
        result.exit_status = 128 + result.term_signal;
      }
    } else if (result.error.empty()) {
      result.error = "the exit status of process " + std::to_string(child.pid()) +
                     " was collected elsewhere (is SIGCHLD ignored?)";
    }
  } catch (const std::exception& e) {
    result.error = std::string("while running the process: ") + e.what();
  } catch (...) {
    result.error = "while running the process: unknown error";
  }
  return finish();
}

}  // namespace runbook
