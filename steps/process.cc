#include "steps/process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include "steps/output_buffer.h"

namespace runbook {
namespace {

namespace bp = boost::process;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

std::string ErrnoText(int err) { return std::strerror(err); }

/// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Runs in the child between fork and exec, so it makes async-signal-safe calls only.
struct ChildSetup : bp::extend::handler {
  explicit ChildSetup(bool own_group) : own_group(own_group) {}
  bool own_group;

  template <typename Executor>
  void on_exec_setup(Executor& exec) const {
    // The child leads its own process group, so that a timeout, an interruption or
    // `runbook recover` can end it with everything it started (kill(-pgid)), and so that the
    // terminal's Ctrl-C reaches the executor only, which then ends the step on purpose.
    if (own_group && ::setpgid(0, 0) != 0) {
      exec.set_error(std::error_code(errno, std::system_category()), "setpgid(0, 0) failed");
      ::_exit(127);
    }
    // The executor may ignore or block signals (SIGPIPE for sockets, SIGINT while it cleans
    // up); ignored dispositions and the mask survive exec, and a step must not inherit them.
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The executor's other descriptors (audit database, run lock, another child's pipes) are
    // not the step's business: close them at exec. Boost.Process 1.74's limit_handles cannot
    // be used for this, as it also closes the stdout/stderr pipes it does not know about.
    // Marking rather than closing keeps Boost's own error pipe (already close-on-exec) working.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  }

  /// In the parent, when the launch failed (exec failed, or a handler did): Boost does not
  /// reap a child that was forked but failed, so do it here rather than leave a zombie.
  template <typename Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid > 0) {
      ::kill(exec.pid, SIGKILL);  // it normally has _exit()ed already
      while (::waitpid(exec.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
};

/// Where argv[0] is: as given when it holds a '/', else the first match in PATH.
Result<std::string> ResolveProgram(const ProcessSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
  std::vector<boost::filesystem::path> dirs;
  auto path = spec.env_add.find("PATH");
  if (path != spec.env_add.end()) {
    std::string_view rest = path->second;
    while (true) {
      size_t colon = rest.find(':');
      std::string_view dir = rest.substr(0, colon);
      dirs.emplace_back(dir.empty() ? std::string(".") : std::string(dir));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  } else {
    dirs = boost::this_process::path();
  }
  boost::filesystem::path found = bp::search_path(name, dirs);
  if (found.empty()) return Result<std::string>::Error(name + ": command not found in PATH");
  return found.string();
}

/// A pipe whose both ends are close-on-exec from the start, so that no child started
/// concurrently by another thread inherits them (the child's own end is dup2()ed onto its
/// stdout or stderr, which clears the flag there).
Result<bp::pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Result<bp::pipe>::Error("pipe: " + ErrnoText(errno));
  return bp::pipe(fds[0], fds[1]);
}

struct Spawned {
  pid_t pid = -1;
  UniqueFd out;
  UniqueFd err;
};

Result<Spawned> Spawn(const ProcessSpec& spec) {
  using R = Result<Spawned>;
  if (spec.argv.empty()) return R::Error("no command to run");
  if (!spec.cwd.empty()) {
    struct stat st;
    if (::stat(spec.cwd.c_str(), &st) != 0) {
      if (errno == ENOENT) return R::Error("cwd " + spec.cwd + " does not exist");
      return R::Error("cwd " + spec.cwd + ": " + ErrnoText(errno));
    }
    if (!S_ISDIR(st.st_mode)) return R::Error("cwd " + spec.cwd + " is not a directory");
  }
  for (const auto& [name, value] : spec.env_add) {
    if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != name.npos)
      return R::Error("invalid environment variable name '" + name + "'");
  }
  try {
    Result<std::string> program = ResolveProgram(spec);
    if (!program.ok()) return program.status();
    // A copy of our environment: assigning to this_process::environment() itself would
    // change the executor's own environment.
    bp::environment env = boost::this_process::environment();
    for (const auto& [name, value] : spec.env_add) env[name] = value;
    std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());

    Result<bp::pipe> out = MakePipe();
    if (!out.ok()) return out.status();
    Result<bp::pipe> err = MakePipe();
    if (!err.ok()) return err.status();

    // Boost returns only after the child has exec'd (it waits on its close-on-exec error
    // pipe), so setpgid has already run in the child by then.
    // With an error_code given, Boost reports launch errors there (and calls the handlers'
    // on_error) instead of throwing.
    std::error_code launch_error;
    const std::string start_dir = spec.cwd.empty() ? std::string(".") : spec.cwd;
    const ChildSetup setup(!spec.foreground);
    auto launch = [&](auto&& std_in) {
      return bp::child(bp::exe = *program, bp::args = args, bp::start_dir = start_dir, env,
                       std_in, bp::std_out > *out, bp::std_err > *err, setup,
                       bp::error = launch_error);
    };
    bp::child child = spec.stdin_file.empty()
                          ? launch(bp::std_in < bp::null)
                          : launch(bp::std_in < boost::filesystem::path(spec.stdin_file));
    if (launch_error) {
      return R::Error("could not start " + spec.argv[0] + ": " + launch_error.message());
    }
    Spawned spawned;
    spawned.pid = child.id();
    // From here on RunProcess owns the child: it reaps it with waitpid, so Boost must not.
    child.detach();
    spawned.out = UniqueFd(out->native_source());
    out->assign_source(-1);
    spawned.err = UniqueFd(err->native_source());
    err->assign_source(-1);
    if (spawned.pid <= 0) return R::Error("could not start " + spec.argv[0]);
    // Belt and braces: also set the group from the parent side. EACCES means the child has
    // already exec'd, and then it did so from inside its own group.
    if (!spec.foreground && ::setpgid(spawned.pid, spawned.pid) != 0 && errno != EACCES &&
        errno != ESRCH) {
      // The child cannot be put in a group we can signal: do not let it run unmanaged.
      const std::string why = ErrnoText(errno);
      ::kill(spawned.pid, SIGKILL);
      while (::waitpid(spawned.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return R::Error("setpgid: " + why);
    }
    return spawned;
  } catch (const std::exception& e) {
    return R::Error("could not start " + spec.argv[0] + ": " + e.what());
  } catch (...) {
    return R::Error("could not start " + spec.argv[0] + ": unknown error");
  }
}

/// One output stream of the child.
struct Stream {
  Stream(UniqueFd f, bool err, const ProcessSpec& spec)
      : fd(std::move(f)), is_stderr(err), tail(spec.tail_bytes), lines(spec.max_line) {}
  UniqueFd fd;
  bool is_stderr;
  TailBuffer tail;
  LineSplitter lines;
};

/// Whether /proc shows a process of group `pgid` that is not a zombie. Errs on the side of
/// "alive" when /proc cannot be read.
bool GroupHasLiveProcess(pid_t pgid) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return true;
  bool alive = false;
  char path[300];  // "/proc/" + a d_name of up to 255 bytes + "/stat"
  char stat[512];
  while (!alive) {
    const dirent* entry = ::readdir(proc);
    if (entry == nullptr) break;
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // exited meanwhile
    const ssize_t n = ::read(fd, stat, sizeof stat - 1);
    ::close(fd);
    if (n <= 0) continue;
    stat[n] = '\0';
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const char* close_paren = std::strrchr(stat, ')');
    if (close_paren == nullptr) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(close_paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    alive = pgrp == pgid && state != 'Z' && state != 'X';
  }
  ::closedir(proc);
  return alive;
}

/// Owns the running child until it is reaped: every exit path, an exception from a callback
/// included, goes through TryReap() or the destructor, which kills the group and reaps.
class RunningChild {
 public:
  // glibc 2.36's <sys/pidfd.h> lacks C++ linkage, hence the raw system call.
  /// `own_group`: the child leads its own process group, and signals go to that group.
  RunningChild(pid_t pid, bool own_group)
      : pid_(pid),
        own_group_(own_group),
        pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  RunningChild(const RunningChild&) = delete;
  RunningChild& operator=(const RunningChild&) = delete;
  ~RunningChild() {
    if (reaped_) return;
    Signal(SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
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

  /// Signals the whole process group (which the child leads), or the child alone when it
  /// runs in the caller's group.
  void Signal(int sig) const { ::kill(own_group_ ? -pid_ : pid_, sig); }
  /// No live process is left in the group. Zombies do not count: an orphan that died of our
  /// SIGTERM stays in the group until init reaps it, which some inits do only every second.
  bool GroupGone() const { return own_group_ ? !ProcessGroupAlive(pid_) : reaped_; }

 private:
  pid_t pid_;
  bool own_group_;
  UniqueFd pidfd_;
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

  // Whether the group has ended, looked up at most every 20ms (it scans /proc).
  bool gone = false;
  std::optional<TimePoint> gone_checked;
  auto group_gone = [&](TimePoint now) {
    if (!gone && (!gone_checked || now - *gone_checked >= std::chrono::milliseconds(20))) {
      gone = child.GroupGone();
      gone_checked = now;
    }
    return gone;
  };

  auto terminate = [&](TimePoint now) {
    if (term_at) return;
    term_at = now;
    child.Signal(SIGTERM);
    child.Signal(SIGCONT);  // a stopped process would not act on SIGTERM until continued
  };

  for (;;) {
    child.TryReap();
    TimePoint now = SteadyClock::now();
    if (deadline && now >= *deadline && !term_at && !settled_at) {
      result.timed_out = true;
      terminate(now);
    }
    if (term_at && !result.sigkill_sent && now >= *term_at + spec.kill_grace &&
        !child.GroupGone()) {
      child.Signal(SIGKILL);
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

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 1) return false;
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  return GroupHasLiveProcess(pgid);
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

  Result<Spawned> spawned = Spawn(spec);
  if (!spawned.ok()) {
    result.spawn_failed = true;
    result.error = spawned.message();
    return finish();
  }
  result.pid = spawned->pid;
  result.pgid = spec.foreground ? -1 : spawned->pid;

  try {
    RunningChild child(spawned->pid, !spec.foreground);
    if (on_started) {
      Status started = on_started(child.pid(), result.pgid);
      if (!started.ok()) {
        result.spawn_failed = true;
        result.error = started.message();
        return finish();  // ~RunningChild kills the group and reaps
      }
    }
    Stream out(std::move(spawned->out), false, spec);
    Stream err(std::move(spawned->err), true, spec);
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
