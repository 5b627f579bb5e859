#include "steps/process_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

namespace runbook {
namespace {

namespace bp = boost::process;

std::string ErrnoText(int err) { return std::strerror(err); }

/// Runs in the parent before the fork (on_setup) and in the child between fork and exec
/// (on_exec_setup), where it makes async-signal-safe calls only. It must come last among
/// Boost's handlers: once it has run, the child's descriptors are as exec will leave them.
///
/// The gate. Boost 1.74 returns from launching only once the child has exec'd or failed (it
/// reads a close-on-exec error pipe) and offers no hook between fork and that wait. So the
/// child closes every descriptor exec would close, Boost's error pipe included (Boost then
/// sees EOF: a launched child), and blocks reading `gate`. The parent records the child
/// (on_started) and then writes one byte to `gate`; only then does the child exec. If the
/// parent closes `gate` instead, or dies, the child reads EOF and _exit()s without running
/// anything. From the gate on, an exec failure is reported on `exec_report` (its errno).
struct ChildSetup : bp::extend::handler {
  ChildSetup(bool own_group, int gate, int exec_report, char** envp)
      : own_group(own_group), gate(gate), exec_report(exec_report), envp(envp) {}
  bool own_group;
  int gate;         // the child's end of the gate
  int exec_report;  // the write end of the exec error pipe, close-on-exec
  char** envp;      // the child's environment

  template <typename Executor>
  void on_setup(Executor& exec) const {
    exec.env = envp;
  }

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
    // The executor's other descriptors (audit database, run lock, another child's pipes,
    // Boost's error pipe) are not the step's business: close them now rather than at exec.
    CloseDescriptorsExcept(gate, exec_report);
    char go = 0;
    ssize_t n;
    while ((n = ::read(gate, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(127);  // the parent did not let us run the command
    ::close(gate);
  }

  template <typename Executor>
  void on_exec_error(Executor&, const std::error_code& error) const {
    const int err = error.value();
    while (::write(exec_report, &err, sizeof err) < 0 && errno == EINTR) {
    }
  }

  /// In the parent, when the launch failed (a handler failed in the child before the gate):
  /// Boost does not reap a child that was forked but failed, so do it here rather than leave a
  /// zombie.
  template <typename Executor>
  void on_error(Executor& exec, const std::error_code&) const {
    if (exec.pid > 0) {
      ::kill(exec.pid, SIGKILL);  // it normally has _exit()ed already
      while (::waitpid(exec.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

 private:
  /// Closes every descriptor from 3 up except `a` and `b` (both >= 3).
  static void CloseDescriptorsExcept(int a, int b) {
    if (a > b) std::swap(a, b);
    unsigned first = 3;
    for (int keep : {a, b}) {
      if (static_cast<unsigned>(keep) > first) CloseFrom(first, static_cast<unsigned>(keep) - 1);
      first = static_cast<unsigned>(keep) + 1;
    }
    CloseFrom(first, ~0U);
  }
  static void CloseFrom(unsigned first, unsigned last) {
    if (::close_range(first, last, 0) == 0) return;
    // Kernels before 5.9: one by one, up to the descriptor limit.
    rlimit limit{};
    unsigned end = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                       ? static_cast<unsigned>(limit.rlim_cur)
                       : 65536u;
    if (last < end) end = last + 1;
    for (unsigned fd = first; fd < end; ++fd) ::close(static_cast<int>(fd));
  }
};

/// Where argv[0] is: as given when it holds a '/', else the first match in PATH.
Result<std::string> ResolveProgram(const ProcessSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
  // Plain stat() and access() rather than bp::search_path: Boost's paths build a std::locale
  // from the environment, which throws when $LANG names a locale this machine lacks.
  auto path = spec.env_add.find("PATH");
  const char* ours = std::getenv("PATH");
  if (path == spec.env_add.end() && ours == nullptr)
    return Result<std::string>::Error(name + ": command not found in PATH");
  std::string_view rest = path != spec.env_add.end() ? std::string_view(path->second) : ours;
  while (true) {
    const size_t colon = rest.find(':');
    const std::string_view dir = rest.substr(0, colon);
    const std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return Result<std::string>::Error(name + ": command not found in PATH");
}

/// A pipe whose both ends are close-on-exec from the start, so that no child started
/// concurrently by another thread inherits them (the child's own end is dup2()ed onto its
/// stdout or stderr, which clears the flag there).
Result<bp::pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Result<bp::pipe>::Error("pipe: " + ErrnoText(errno));
  return bp::pipe(fds[0], fds[1]);
}

/// Two connected descriptors, both close-on-exec: [0] for the parent, [1] for the child.
struct FdPair {
  UniqueFd parent;
  UniqueFd child;
};

/// The gate is a socket pair rather than a pipe so that the parent can write to a child that
/// died without a SIGPIPE (send's MSG_NOSIGNAL).
Result<FdPair> MakeGate() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return Result<FdPair>::Error("socketpair: " + ErrnoText(errno));
  return FdPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

/// The exec error pipe: [0] the parent reads, [1] the child writes an errno if exec fails.
Result<FdPair> MakeExecReport() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Result<FdPair>::Error("pipe: " + ErrnoText(errno));
  return FdPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

/// The child's environment as NAME=VALUE strings: ours in our order, a name in `add` taking
/// the value there (its first occurrence; later duplicates dropped), then the names of `add`
/// we do not have, in name order. Built here rather than with bp::environment, whose lookup
/// (basic_environment::find, behind operator[], Boost 1.74) compares "NAME=" with each entry
/// as a bare char* and so reads past the end of every entry shorter than that (a heap
/// overread AddressSanitizer reports).
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& add) {
  std::vector<std::string> env;
  std::set<std::string_view> replaced;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    auto it = add.find(std::string(entry.substr(0, entry.find('='))));
    if (it == add.end()) {
      env.emplace_back(entry);
    } else if (replaced.insert(it->first).second) {
      env.push_back(it->first + "=" + it->second);
    }
  }
  for (const auto& [name, value] : add)
    if (replaced.count(name) == 0) env.push_back(name + "=" + value);
  return env;
}

}  // namespace

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
    std::vector<std::string> env = ChildEnvironment(spec.env_add);
    std::vector<char*> envp;
    for (std::string& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());

    Result<bp::pipe> out = MakePipe();
    if (!out.ok()) return out.status();
    Result<bp::pipe> err = MakePipe();
    if (!err.ok()) return err.status();
    Result<FdPair> gate = MakeGate();
    if (!gate.ok()) return gate.status();
    Result<FdPair> exec_report = MakeExecReport();
    if (!exec_report.ok()) return exec_report.status();

    // Boost returns once the child waits at its gate (or has failed before it), so setpgid
    // has already run in the child by then. With an error_code given, Boost reports launch
    // errors there (and calls the handlers' on_error) instead of throwing.
    std::error_code launch_error;
    const std::string start_dir = spec.cwd.empty() ? std::string(".") : spec.cwd;
    const ChildSetup setup(!spec.foreground, gate->child.get(), exec_report->child.get(),
                           envp.data());
    auto launch = [&](auto&& std_in) {
      return bp::child(bp::exe = *program, bp::args = args, bp::start_dir = start_dir, std_in,
                       bp::std_out > *out, bp::std_err > *err, bp::error = launch_error, setup);
    };
    bp::child child = spec.stdin_file.empty()
                          ? launch(bp::std_in < bp::null)
                          : launch(bp::std_in < boost::filesystem::path(spec.stdin_file));
    gate->child.Reset();
    exec_report->child.Reset();
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
    spawned.gate = std::move(gate->parent);
    spawned.exec_report = std::move(exec_report->parent);
    if (spawned.pid <= 0) return R::Error("could not start " + spec.argv[0]);
    return spawned;
  } catch (const std::exception& e) {
    return R::Error("could not start " + spec.argv[0] + ": " + e.what());
  } catch (...) {
    return R::Error("could not start " + spec.argv[0] + ": unknown error");
  }
}

Status Release(Spawned& spawned, const std::string& program) {
  static const char go = 1;
  ssize_t sent;
  while ((sent = ::send(spawned.gate.get(), &go, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  const int send_errno = errno;
  spawned.gate.Reset();
  if (sent != 1) {
    return Status::Error("could not start " + program + ": it ended before exec (" +
                         ErrnoText(send_errno) + ")");
  }
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(spawned.exec_report.get(), &exec_errno, sizeof exec_errno)) < 0 &&
         errno == EINTR) {
  }
  spawned.exec_report.Reset();
  if (got == 0) return Status::Ok();  // closed on exec
  if (got != static_cast<ssize_t>(sizeof exec_errno)) {
    return Status::Error("could not start " + program + ": " +
                         (got < 0 ? "exec report: " + ErrnoText(errno) : "exec failed"));
  }
  return Status::Error("could not start " + program + ": " +
                       std::error_code(exec_errno, std::system_category()).message());
}

}  // namespace runbook
