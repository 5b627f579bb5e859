#include "steps/process_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <string_view>
#include <system_error>
#include <vector>

namespace runbook {
namespace {

/// What the child tells us on its report pipe, each message one write (atomic on a pipe).
/// Before the gate: kAtGate once it waits there, or the step that failed, with its errno (it
/// then exits). After the gate: kExec with the errno of a failed execve. A successful execve
/// closes the pipe instead (it is close-on-exec), as the child's exit does. A child whose
/// program waits at its own gate does not wait before exec, and sends no kAtGate.
enum class ChildStep : int32_t { kAtGate, kSetpgid, kChdir, kStdio, kGate, kExec };

struct ChildReport {
  ChildStep step;
  int32_t error;
};

const char* StepName(ChildStep step) {
  switch (step) {
    case ChildStep::kAtGate:
      return "gate";
    case ChildStep::kSetpgid:
      return "setpgid";
    case ChildStep::kChdir:
      return "chdir";
    case ChildStep::kStdio:
      return "stdin, stdout, stderr";
    case ChildStep::kGate:
      return "the gate's descriptor";
    case ChildStep::kExec:
      return "exec";
  }
  return "?";
}

/// The kernel's signal set is 64 bits (NSIG - 1 signals), not glibc's 1024-bit sigset_t.
constexpr size_t kKernelSigsetBytes = (NSIG - 1) / 8;

/// Everything the child reads between the clone and its exec. Written before the clone, and
/// then left alone until the child has left our memory.
struct ChildArgs {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: ours
  bool own_group;
  int in, out, err;   // become the child's 0, 1 and 2; each >= 3 here
  int gate;           // the child's end of the gate (> kProgramGateFd when program_gate)
  bool program_gate;  // the program waits at the gate: at kProgramGateFd, after exec
  int report;         // the write end of the report pipe, close-on-exec (> kProgramGateFd)
  unsigned fd_limit;  // where closing descriptors one by one stops (kernels before 5.9)
};

/// Tells the parent which step of ChildMain failed, with errno, and exits.
[[noreturn]] __attribute__((no_sanitize("address"))) void ChildFail(const ChildArgs& a,
                                                                    ChildStep step) {
  const ChildReport report{step, errno};
  syscall(SYS_write, a.report, &report, sizeof report);
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

/// The child, from the clone to the exec, running in our memory on a stack of its own. It calls
/// nothing but syscall() and errno's __errno_location() (both bound already by Spawn, so that
/// the dynamic linker never runs here): no locks, no allocation, no cancellation bookkeeping.
/// It shares errno with the thread that cloned it, so that thread waits, every signal blocked,
/// whenever the child may write errno (as vfork() would make it wait): until the child waits at
/// its gate (Spawn), and while it execs (Release); or, when its program waits at a gate of its
/// own, until it has exec'd (Spawn). While the child is blocked at its gate, we go on.
///
/// It leads its own process group, so that a timeout, an interruption or `runbook recover`
/// can end it with everything it starts (kill(-pgid)), and so that the terminal's Ctrl-C
/// reaches the executor only, which then ends the step on purpose. The executor may ignore or
/// block signals (SIGPIPE for sockets, SIGINT while it cleans up): ignored dispositions and
/// the mask survive exec, and a step must not inherit them; nor may a handler of ours ever run
/// in the child, in our memory. So every disposition goes back to the default while all
/// signals are still blocked (the cloning thread blocked them), and only then is the mask
/// emptied. The executor's other descriptors (audit database, run lock, another child's pipes)
/// are not the step's business: they are closed now rather than at exec.
__attribute__((no_sanitize("address"))) int ChildMain(void* arg) {
  const ChildArgs& a = *static_cast<const ChildArgs*>(arg);
  if (a.own_group && syscall(SYS_setpgid, 0, 0) != 0) ChildFail(a, ChildStep::kSetpgid);

  const unsigned long default_action[8] = {};  // SIG_DFL, no flags, empty mask (any layout)
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP)
      syscall(SYS_rt_sigaction, sig, default_action, nullptr, kKernelSigsetBytes);
  }
  const uint64_t none = 0;
  static_assert(sizeof none == kKernelSigsetBytes);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, kKernelSigsetBytes);

  if (a.cwd != nullptr && syscall(SYS_chdir, a.cwd) != 0) ChildFail(a, ChildStep::kChdir);
  if (syscall(SYS_dup3, a.in, 0, 0) < 0 || syscall(SYS_dup3, a.out, 1, 0) < 0 ||
      syscall(SYS_dup3, a.err, 2, 0) < 0) {
    ChildFail(a, ChildStep::kStdio);
  }
  // The program's gate at its place, open across exec (the original is closed below).
  if (a.program_gate && syscall(SYS_dup3, a.gate, kProgramGateFd, 0) < 0)
    ChildFail(a, ChildStep::kGate);
  const int gate = a.program_gate ? kProgramGateFd : a.gate;
  // Every descriptor from 3 up but the gate and the report pipe.
  const unsigned keep_low = static_cast<unsigned>(gate < a.report ? gate : a.report);
  const unsigned keep_high = static_cast<unsigned>(gate < a.report ? a.report : gate);
  const unsigned ranges[3][2] = {
      {3, keep_low - 1}, {keep_low + 1, keep_high - 1}, {keep_high + 1, ~0U}};
  for (const auto& range : ranges) {
    if (range[0] > range[1]) continue;
    if (syscall(SYS_close_range, range[0], range[1], 0) == 0) continue;
    const unsigned end = range[1] < a.fd_limit ? range[1] + 1 : a.fd_limit;
    for (unsigned fd = range[0]; fd < end; ++fd) syscall(SYS_close, fd);
  }

  if (!a.program_gate) {
    const ChildReport at_gate{ChildStep::kAtGate, 0};
    syscall(SYS_write, a.report, &at_gate, sizeof at_gate);
    char go = 0;
    if (syscall(SYS_read, a.gate, &go, 1) != 1) {
      syscall(SYS_exit_group, 127);  // we may not run the command
    }
    syscall(SYS_close, a.gate);
  }
  syscall(SYS_execve, a.program, a.argv, a.envp);
  ChildFail(a, ChildStep::kExec);
}

/// Blocks every signal in the calling thread for its lifetime (see ChildMain).
class BlockedSignals {
 public:
  BlockedSignals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockedSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

 private:
  sigset_t old_;
};

/// Reads one report of the child: its size in bytes (0 at end-of-file), or -1 on an error.
ssize_t ReadReport(int fd, ChildReport& report) {
  ssize_t got;
  while ((got = ::read(fd, &report, sizeof report)) < 0 && errno == EINTR) {
  }
  return got;
}

/// Where argv[0] is: as given when it holds a '/', else the first match in PATH.
Result<std::string> ResolveProgram(const ProcessSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
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

/// Two connected descriptors, both close-on-exec: one for us, one for the child.
struct FdPair {
  UniqueFd ours;
  UniqueFd child;
};

/// The child's ends must not be 0, 1 or 2 (when we run without them, a new descriptor can be
/// one of those): the child puts its stdin, stdout and stderr there before it is done with
/// them; nor kProgramGateFd, where a program that waits at its own gate finds it, for the gate
/// and the report pipe. Moves `fd` to `lowest` or above, still close-on-exec.
Status AboveStdio(UniqueFd& fd, int lowest = 3) {
  if (fd.get() >= lowest) return Status::Ok();
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, lowest);
  if (moved < 0) return Status::Error("fcntl: " + ErrnoText(errno));
  fd = UniqueFd(moved);
  return Status::Ok();
}

/// A pipe: [ours] reads what the child writes to [child] (its stdout or stderr, or its
/// reports), both ends close-on-exec from the start, so that no child started concurrently by
/// another thread keeps them past its exec.
Result<FdPair> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Result<FdPair>::Error("pipe: " + ErrnoText(errno));
  FdPair pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (Status moved = AboveStdio(pair.child); !moved.ok()) return moved;
  return pair;
}

/// The gate is a socket pair rather than a pipe so that we can write to a child that died
/// without a SIGPIPE (send's MSG_NOSIGNAL).
Result<FdPair> MakeGate() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return Result<FdPair>::Error("socketpair: " + ErrnoText(errno));
  FdPair pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (Status moved = AboveStdio(pair.child, kProgramGateFd + 1); !moved.ok()) return moved;
  return pair;
}

/// The child's environment as NAME=VALUE strings: ours in our order, a name in `add` taking
/// the value there (its first occurrence; later duplicates dropped), then the names of `add`
/// we do not have, in name order.
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

/// The child's stack: small, since the child calls nothing but syscall(), with a guard page
/// below it.
constexpr size_t kStackBytes = 64 * 1024;

/// Waits for the child to exit (after it failed before its gate) and reaps it.
void Reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

/// What the child uses until it has exec'd: its stack, its arguments, our ends of its gate and
/// report pipe. Never moves (the child holds pointers into it).
struct SpawnedChild::Launch {
  Launch() = default;
  Launch(const Launch&) = delete;
  Launch& operator=(const Launch&) = delete;
  /// The child may run in our memory until the report pipe reaches end-of-file: it closes
  /// (close-on-exec) only after the kernel has given the child its own memory, or at its exit.
  /// Closing the gate first makes a child that still waits there exit at once.
  ~Launch() {
    gate.Reset();
    ChildReport ignored;
    ssize_t got = 0;
    while (!child_left && (got = ReadReport(report.get(), ignored)) > 0) {
    }
    // A report pipe that cannot be read cannot tell: rather leak the stack than free it under
    // a child that may still run on it.
    if (stack != nullptr && got == 0) ::munmap(stack, stack_bytes);
  }

  std::vector<std::string> args;  // argv[0] (the program as found) and the arguments
  std::vector<char*> argv;
  std::vector<std::string> env;
  std::vector<char*> envp;
  std::string cwd;
  ChildArgs child{};
  void* stack = nullptr;  // the mapping, guard page included
  size_t stack_bytes = 0;
  UniqueFd gate;            // our end: one byte lets the child exec, closing it ends the child
  UniqueFd report;          // the read end of the child's report pipe
  bool child_left = false;  // the child has exec'd or exited: it no longer uses this
};

SpawnedChild::SpawnedChild(pid_t pid, UniqueFd out, UniqueFd err, std::unique_ptr<Launch> launch)
    : pid_(pid), out_(std::move(out)), err_(std::move(err)), launch_(std::move(launch)) {}
SpawnedChild::SpawnedChild(SpawnedChild&&) noexcept = default;
SpawnedChild& SpawnedChild::operator=(SpawnedChild&&) noexcept = default;
SpawnedChild::~SpawnedChild() = default;

void SpawnedChild::CloseGate() { launch_->gate.Reset(); }

Status SpawnedChild::Release(const std::string& program) {
  Launch& launch = *launch_;
  static const char go = '\n';  // a line: what a shell's `read` at its own gate waits for
  if (launch.child_left) {
    // The program waits at its own gate. If it ended by itself already (a shell that could not
    // parse its script), reaping it tells how.
    while (::send(launch.gate.get(), &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    launch.gate.Reset();
    return Status::Ok();
  }
  ChildReport report{};
  ssize_t got;
  {
    const BlockedSignals blocked;  // the child may write errno until it has exec'd
    ssize_t sent;
    while ((sent = ::send(launch.gate.get(), &go, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    const int send_errno = errno;
    launch.gate.Reset();
    if (sent != 1) {
      return Status::Error("could not start " + program + ": it ended before exec (" +
                           ErrnoText(send_errno) + ")");
    }
    got = ReadReport(launch.report.get(), report);
  }
  if (got == 0) {  // closed on exec
    launch.child_left = true;
    return Status::Ok();
  }
  if (got != static_cast<ssize_t>(sizeof report) || report.step != ChildStep::kExec) {
    return Status::Error("could not start " + program + ": " +
                         (got < 0 ? "exec report: " + ErrnoText(errno) : "exec failed"));
  }
  return Status::Error("could not start " + program + ": " +
                       std::error_code(report.error, std::system_category()).message());
}

Result<SpawnedChild> Spawn(const ProcessSpec& spec) {
  using R = Result<SpawnedChild>;
  if (spec.argv.empty()) return R::Error("no command to run");
  const std::string& name = spec.argv[0];
  if (!spec.cwd.empty()) {
    struct stat st;
    if (::stat(spec.cwd.c_str(), &st) != 0) {
      if (errno == ENOENT) return R::Error("cwd " + spec.cwd + " does not exist");
      return R::Error("cwd " + spec.cwd + ": " + ErrnoText(errno));
    }
    if (!S_ISDIR(st.st_mode)) return R::Error("cwd " + spec.cwd + " is not a directory");
  }
  for (const auto& [var, value] : spec.env_add) {
    if (var.empty() || var.find('=') != std::string::npos || var.find('\0') != var.npos)
      return R::Error("invalid environment variable name '" + var + "'");
  }
  try {
    Result<std::string> program = ResolveProgram(spec);
    if (!program.ok()) return program.status();
    auto launch = std::make_unique<SpawnedChild::Launch>();
    launch->args.push_back(*program);
    launch->args.insert(launch->args.end(), spec.argv.begin() + 1, spec.argv.end());
    for (std::string& arg : launch->args) launch->argv.push_back(arg.data());
    launch->argv.push_back(nullptr);
    launch->env = ChildEnvironment(spec.env_add);
    for (std::string& entry : launch->env) launch->envp.push_back(entry.data());
    launch->envp.push_back(nullptr);
    launch->cwd = spec.cwd;

    const std::string& in_path = spec.stdin_file.empty() ? "/dev/null" : spec.stdin_file;
    UniqueFd in(::open(in_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid())
      return R::Error("could not start " + name + ": " + in_path + ": " + ErrnoText(errno));
    if (Status moved = AboveStdio(in); !moved.ok()) return moved;
    Result<FdPair> out = MakePipe();
    if (!out.ok()) return out.status();
    Result<FdPair> err = MakePipe();
    if (!err.ok()) return err.status();
    Result<FdPair> gate = MakeGate();
    if (!gate.ok()) return gate.status();
    Result<FdPair> report = MakePipe();
    if (!report.ok()) return report.status();
    if (Status moved = AboveStdio(report->child, kProgramGateFd + 1); !moved.ok()) return moved;

    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    launch->stack_bytes = kStackBytes + page;
    void* stack = ::mmap(nullptr, launch->stack_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
      return R::Error("could not start " + name + ": stack: " + ErrnoText(errno));
    launch->stack = stack;
    ::mprotect(stack, page, PROT_NONE);
    rlimit files{};
    const bool limited = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (1u << 20);

    launch->child = ChildArgs{
        launch->args[0].c_str(), launch->argv.data(),
        launch->envp.data(),     launch->cwd.empty() ? nullptr : launch->cwd.c_str(),
        !spec.foreground,        in.get(),
        out->child.get(),        err->child.get(),
        gate->child.get(),       spec.waits_at_own_gate,
        report->child.get(),     limited ? static_cast<unsigned>(files.rlim_cur) : (1u << 20)};
    launch->gate = std::move(gate->ours);
    launch->report = std::move(report->ours);

    // The child calls syscall() and reads errno (__errno_location()): both are called here
    // first, so that the dynamic linker's lazy binding never runs in the child.
    static const bool bound = syscall(SYS_getpid) > 0 && errno >= 0;
    (void)bound;
    pid_t pid;
    ChildReport first{};
    ssize_t got;
    {
      // Until the child waits at its gate, or has exec'd when its program waits (ChildMain).
      const BlockedSignals blocked;
      pid = ::clone(ChildMain, static_cast<char*>(stack) + launch->stack_bytes, CLONE_VM | SIGCHLD,
                    &launch->child);
      if (pid < 0) {
        launch->child_left = true;
        return R::Error("could not start " + name + ": clone: " + ErrnoText(errno));
      }
      // Closing these in the child's memory changes nothing for the child: its descriptor
      // table is its own. The report pipe reaches end-of-file once the child is done with it.
      in.Reset();
      out->child.Reset();
      err->child.Reset();
      gate->child.Reset();
      report->child.Reset();
      got = ReadReport(launch->report.get(), first);
    }
    if (got == static_cast<ssize_t>(sizeof first) && first.step == ChildStep::kAtGate) {
      return SpawnedChild(pid, std::move(out->ours), std::move(err->ours), std::move(launch));
    }
    if (got == 0 && spec.waits_at_own_gate) {  // exec'd: the program waits at its own gate
      launch->child_left = true;
      return SpawnedChild(pid, std::move(out->ours), std::move(err->ours), std::move(launch));
    }
    // The child failed before its gate (and exits) or was killed: wait until it has left our
    // memory, then reap it.
    launch.reset();
    Reap(pid);
    if (got == static_cast<ssize_t>(sizeof first) && first.step == ChildStep::kExec)
      return R::Error("could not start " + name + ": " + ErrnoText(first.error));  // as Release
    if (got == static_cast<ssize_t>(sizeof first)) {
      return R::Error("could not start " + name + ": " + StepName(first.step) + ": " +
                      ErrnoText(first.error));
    }
    return R::Error("could not start " + name + ": it ended before exec");
  } catch (const std::exception& e) {
    return R::Error("could not start " + name + ": " + e.what());
  } catch (...) {
    return R::Error("could not start " + name + ": unknown error");
  }
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace runbook
