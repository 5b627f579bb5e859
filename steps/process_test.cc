#include "steps/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "engine/cancel.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct Captured {
  std::vector<std::string> out;
  std::vector<std::string> err;
  ProcessLineCallback Callback() {
    return [this](bool is_stderr, std::string_view line, bool) {
      (is_stderr ? err : out).emplace_back(line);
    };
  }
};

ProcessSpec Shell(const std::string& command) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", command};
  return spec;
}

/// A shell that starts before the start callback and waits at its own gate, as a shell step's.
ProcessSpec GatedShell(const std::string& command) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", GatedShellScript(command)};
  spec.waits_at_own_gate = true;
  return spec;
}

using testing::ReadFile;
using testing::TempDir;

/// Reads a pid the command wrote to `path`.
pid_t ReadPid(const std::string& path) { return static_cast<pid_t>(std::stol(ReadFile(path))); }

/// The process no longer runs: no /proc entry, or a zombie waiting for its parent.
bool PidGone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

/// Waits up to a second for the pid to be gone (an orphan is reaped by init asynchronously).
bool EventuallyGone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (PidGone(pid)) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

long ElapsedMs(steady_clock::time_point since) {
  return static_cast<long>(
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - since).count());
}

TEST(ProcessTest, ExitStatusIsReported) {
  ProcessResult ok = RunProcess(Shell("true"), -1);
  EXPECT_FALSE(ok.spawn_failed) << ok.error;
  EXPECT_EQ(ok.exit_status, 0);
  EXPECT_TRUE(ok.ok());

  ProcessResult three = RunProcess(Shell("exit 3"), -1);
  EXPECT_EQ(three.exit_status, 3);
  EXPECT_EQ(three.term_signal, 0);
  EXPECT_FALSE(three.ok());
  EXPECT_FALSE(three.timed_out);
  EXPECT_FALSE(three.cancelled);
}

TEST(ProcessTest, SignalDeathIs128PlusSignal) {
  ProcessResult r = RunProcess(Shell("kill -9 $$"), -1);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
  EXPECT_FALSE(r.ok());
}

TEST(ProcessTest, CapturesAndSplitsBothStreams) {
  Captured c;
  ProcessResult r =
      RunProcess(Shell("echo one; echo two >&2; echo; printf 'three\\nfour'"), -1, c.Callback());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(c.out, (std::vector<std::string>{"one", "", "three", "four"}));
  EXPECT_EQ(c.err, (std::vector<std::string>{"two"}));
  EXPECT_EQ(r.stdout_tail, "one\n\nthree\nfour");
  EXPECT_EQ(r.stderr_tail, "two\n");
  EXPECT_EQ(r.stdout_bytes, 15u);
  EXPECT_EQ(r.stderr_bytes, 4u);
}

TEST(ProcessTest, OutputWithoutNewlineIsDeliveredInPieces) {
  Captured c;
  ProcessResult r =
      RunProcess(Shell("head -c 10000 /dev/zero | tr '\\0' x"), -1, c.Callback());
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(c.out.size(), 3u);
  EXPECT_EQ(c.out[0], std::string(4096, 'x'));
  EXPECT_EQ(c.out[1], std::string(4096, 'x'));
  EXPECT_EQ(c.out[2], std::string(10000 - 2 * 4096, 'x'));
  EXPECT_EQ(r.stdout_tail, std::string(10000, 'x'));
}

TEST(ProcessTest, FiftyMegabytesOnBothStreamsDoNotDeadlock) {
  // Both streams at full speed at once: a runner that read one pipe to EOF before the other
  // would block forever once the other pipe's 64 KiB buffer filled up.
  const size_t size = 50u << 20;
  const std::string out_line = "stdout 0123456789 abcdefghijklmnopqrstuvwxyz";
  const std::string err_line = "stderr ABCDEFGHIJKLMNOPQRSTUVWXYZ 9876543210";
  std::string command = "yes '" + out_line + "' | head -c " + std::to_string(size) +
                        " & yes '" + err_line + "' | head -c " + std::to_string(size) +
                        " >&2; wait";
  size_t out_lines = 0, err_lines = 0, bad_lines = 0;
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(Shell(command), -1, [&](bool is_stderr, std::string_view line, bool) {
    (is_stderr ? err_lines : out_lines)++;
    if (line != (is_stderr ? err_line : out_line) && line.size() > 0 &&
        !(is_stderr ? err_line : out_line).starts_with(line))
      ++bad_lines;
  });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_LT(ElapsedMs(start), 30000);
  EXPECT_EQ(r.stdout_bytes, size);
  EXPECT_EQ(r.stderr_bytes, size);
  EXPECT_EQ(bad_lines, 0u);
  EXPECT_EQ(out_lines, (size + out_line.size()) / (out_line.size() + 1));
  EXPECT_EQ(err_lines, (size + err_line.size()) / (err_line.size() + 1));

  auto expected_tail = [&](const std::string& line) {
    std::string all;
    while (all.size() < size) all += line + "\n";
    all.resize(size);
    return all.substr(size - 64 * 1024);
  };
  EXPECT_EQ(r.stdout_tail.size(), 64u * 1024);
  EXPECT_EQ(r.stderr_tail.size(), 64u * 1024);
  EXPECT_EQ(r.stdout_tail, expected_tail(out_line));
  EXPECT_EQ(r.stderr_tail, expected_tail(err_line));
}

TEST(ProcessTest, TimeoutEndsTheWholeGroup) {
  TempDir dir;
  ProcessSpec spec = Shell("echo $$ > shell.pid; sleep 30 & echo $! > child.pid; wait");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(300);
  spec.kill_grace = milliseconds(5000);
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1);
  long elapsed = ElapsedMs(start);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.sigkill_sent);  // SIGTERM was enough
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_EQ(r.exit_status, 128 + SIGTERM);
  EXPECT_GE(elapsed, 300);
  EXPECT_LT(elapsed, 2000);
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("shell.pid"))));
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("child.pid"))));
}

TEST(ProcessTest, ChildIgnoringSigtermIsKilledAfterGrace) {
  TempDir dir;
  ProcessSpec spec =
      Shell("trap '' TERM; echo $$ > deaf.pid; sleep 30 & echo $! > child.pid; wait; wait");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(300);
  spec.kill_grace = milliseconds(500);
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1);
  long elapsed = ElapsedMs(start);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(r.sigkill_sent);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_GE(elapsed, 800);
  EXPECT_LT(elapsed, 3000);
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("deaf.pid"))));
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("child.pid"))));
}

TEST(ProcessTest, GrandchildIgnoringSigtermIsKilledAfterTheShellDies) {
  // The shell dies of SIGTERM at once; the grandchild ignores it and holds no pipe. It must
  // still get SIGKILL after the grace period.
  TempDir dir;
  ProcessSpec spec = Shell(
      "(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! > child.pid; sleep 30");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(300);
  spec.kill_grace = milliseconds(400);
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(r.sigkill_sent);
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_GE(ElapsedMs(start), 700);
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("child.pid"))));
}

TEST(ProcessTest, CancelFromAnotherThreadStopsPromptly) {
  CancelFlag cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel.Cancel();
  });
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(Shell("sleep 30"), cancel.fd());
  long elapsed = ElapsedMs(start);
  canceller.join();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(elapsed, 200);
  EXPECT_LT(elapsed, 1500);
}

TEST(ProcessTest, StdinIsDevNull) {
  Captured c;
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(Shell("cat; readlink /proc/$$/fd/0"), -1, c.Callback());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_EQ(c.out, (std::vector<std::string>{"/dev/null"}));
}

TEST(ProcessTest, EnvironmentIsOursPlusAdditions) {
  ASSERT_EQ(setenv("RUNBOOK_PROCESS_TEST_INHERITED", "from parent", 1), 0);
  ProcessSpec spec = Shell(
      "printf '%s|%s|%s' \"$RUNBOOK_PROCESS_TEST_INHERITED\" \"$ADDED\" \"${EMPTY-unset}\"");
  spec.env_add = {{"ADDED", "a b 'c'"}, {"EMPTY", ""}};
  ProcessResult r = RunProcess(spec, -1);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stdout_tail, "from parent|a b 'c'|");
  EXPECT_EQ(getenv("ADDED"), nullptr);  // our own environment is untouched
  unsetenv("RUNBOOK_PROCESS_TEST_INHERITED");
}

TEST(ProcessTest, RunsInCwd) {
  TempDir dir;
  ProcessSpec spec = Shell("pwd -P");
  spec.cwd = dir.path();
  ProcessResult r = RunProcess(spec, -1);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stdout_tail, std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST(ProcessTest, MissingCwdFailsToSpawn) {
  TempDir dir;
  ProcessSpec spec = Shell("true");
  spec.cwd = dir.File("nope");
  bool started = false;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity&, pid_t) {
    started = true;
    return Status::Ok();
  });
  EXPECT_TRUE(r.spawn_failed);
  EXPECT_EQ(r.error, "cwd " + dir.File("nope") + " does not exist");
  EXPECT_FALSE(started);
  EXPECT_FALSE(r.ok());
}

TEST(ProcessTest, ProgramIsLookedUpInPath) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "exit 4"};
  EXPECT_EQ(RunProcess(spec, -1).exit_status, 4);

  spec.argv = {"runbook-no-such-program"};
  ProcessResult missing = RunProcess(spec, -1);
  EXPECT_TRUE(missing.spawn_failed);
  EXPECT_NE(missing.error.find("runbook-no-such-program"), std::string::npos) << missing.error;

  spec.argv = {"/nonexistent/program"};
  ProcessResult bad = RunProcess(spec, -1);
  EXPECT_TRUE(bad.spawn_failed);
  EXPECT_EQ(bad.error, "could not start /nonexistent/program: No such file or directory");
  // The child forked for the failed exec was reaped: we have no child left at all.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, ProgramIsLookedUpInPathUnderALocaleThisMachineLacks) {
  // An operator's $LANG may name a locale that is not installed; a lookup must not depend on
  // it (std::locale("") throws then).
  const char* old = getenv("LC_ALL");
  const std::string saved = old != nullptr ? old : "";
  ASSERT_EQ(setenv("LC_ALL", "xx_RUNBOOK.UTF-8", 1), 0);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "exit 4"};
  ProcessResult r = RunProcess(spec, -1);
  if (old != nullptr) {
    setenv("LC_ALL", saved.c_str(), 1);
  } else {
    unsetenv("LC_ALL");
  }
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.exit_status, 4);
}

TEST(ProcessTest, ChildLeadsItsOwnProcessGroup) {
  pid_t started_pid = -1, started_pgid = -1;
  Captured c;
  ProcessResult r = RunProcess(Shell("echo $$; cut -d' ' -f5 /proc/$$/stat"), -1, c.Callback(),
                               [&](const ProcessIdentity& child, pid_t pgid) {
                                 started_pid = child.pid;
                                 started_pgid = pgid;
                                 return Status::Ok();
                               });
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(c.out.size(), 2u);
  EXPECT_EQ(std::stoi(c.out[0]), r.pid);
  EXPECT_EQ(std::stoi(c.out[1]), r.pgid);
  EXPECT_EQ(r.pgid, r.pid);
  EXPECT_NE(r.pgid, getpgrp());
  EXPECT_EQ(started_pid, r.pid);
  EXPECT_EQ(started_pgid, r.pgid);
}

TEST(ProcessTest, TheCommandStartsOnlyOnceTheStartCallbackHasReturned) {
  // What the callback records (process_started) must be durable before the command can do
  // anything: the child exists and leads its group, but waits.
  TempDir dir;
  ProcessSpec spec = Shell("touch ran");
  spec.cwd = dir.path();
  bool ran_at_start = true, ran_later = true, in_group = false;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity& child, pid_t pgid) {
    ran_at_start = std::filesystem::exists(dir.File("ran"));
    in_group = !PidGone(child.pid) && ::getpgid(child.pid) == pgid;
    std::this_thread::sleep_for(milliseconds(300));
    ran_later = std::filesystem::exists(dir.File("ran"));
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(ran_at_start);
  EXPECT_FALSE(ran_later) << "the command ran while the start callback was still recording";
  EXPECT_TRUE(in_group);
  EXPECT_TRUE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, AFailedStartCallbackMeansTheCommandNeverRuns) {
  TempDir dir;
  ProcessSpec spec = Shell("touch ran; sleep 30");
  spec.cwd = dir.path();
  bool alive_at_start = false;
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity& child, pid_t) {
    alive_at_start = !PidGone(child.pid);
    return Status::Error("audit log unwritable");
  });
  EXPECT_TRUE(alive_at_start);
  EXPECT_TRUE(r.spawn_failed);
  EXPECT_EQ(r.error, "audit log unwritable");
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_GT(r.pid, 0);
  EXPECT_TRUE(PidGone(r.pid));
  // Reaped (no zombie left), and the command never ran.
  EXPECT_EQ(::waitpid(r.pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, TheStartCallbackGetsTheChildsIdentity) {
  ProcessIdentity seen;
  bool same_while_running = false;
  ProcessResult r = RunProcess(Shell("true"), -1, {}, [&](const ProcessIdentity& child, pid_t) {
    seen = child;
    same_while_running = SameProcess(child);
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(seen.pid, r.pid);
  EXPECT_EQ(seen.boot_id, CurrentBootId());
  EXPECT_FALSE(seen.boot_id.empty());
  EXPECT_GT(seen.start_time, 0);
  EXPECT_TRUE(same_while_running);
  EXPECT_FALSE(SameProcess(seen)) << "reaped: gone";
}

TEST(ProcessTest, AnExecFailureAfterTheStartCallbackIsASpawnFailure) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/program"};
  bool started = false;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity&, pid_t) {
    started = true;
    return Status::Ok();
  });
  EXPECT_TRUE(started);  // the child existed (and was recorded); it could not exec
  EXPECT_TRUE(r.spawn_failed);
  EXPECT_EQ(r.error, "could not start /nonexistent/program: No such file or directory");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, AnExecFailureSaysWhyAsExecveDoes) {
  // The child execs the program itself (no shell in between): execve's own error, and a
  // file without #! that the kernel cannot run is an error, not a shell script.
  TempDir dir;
  const std::string plain = dir.File("not-executable");
  std::ofstream(plain) << "#!/bin/sh\ntouch ran\n";
  const std::string script = dir.File("no-interpreter-line");
  std::ofstream(script) << "touch ran\n";
  ::chmod(script.c_str(), 0755);
  ProcessSpec spec;
  spec.cwd = dir.path();
  spec.argv = {plain};
  ProcessResult denied = RunProcess(spec, -1);
  EXPECT_TRUE(denied.spawn_failed);
  EXPECT_EQ(denied.error, "could not start " + plain + ": Permission denied");
  spec.argv = {script};
  ProcessResult format = RunProcess(spec, -1);
  EXPECT_TRUE(format.spawn_failed);
  EXPECT_EQ(format.error, "could not start " + script + ": Exec format error");
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

/// Runs `spec` from a forked executor that dies in the start callback, `wait` after it was
/// called; true once the child it left has gone too. Fails the test if the helper misbehaves.
bool ChildGoesWithItsDyingExecutor(const ProcessSpec& spec, milliseconds wait) {
  int pid_pipe[2];
  if (::pipe(pid_pipe) != 0) return false;
  const pid_t executor = ::fork();
  if (executor < 0) return false;
  if (executor == 0) {
    (void)RunProcess(spec, -1, {}, [&](const ProcessIdentity& child, pid_t) {
      (void)!::write(pid_pipe[1], &child.pid, sizeof child.pid);
      std::this_thread::sleep_for(wait);
      ::_exit(0);
      return Status::Ok();
    });
    ::_exit(1);
  }
  ::close(pid_pipe[1]);
  pid_t child = -1;
  const bool read = ::read(pid_pipe[0], &child, sizeof child) == static_cast<ssize_t>(sizeof child);
  ::close(pid_pipe[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(executor, &status, 0), executor);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!read) return false;
  // The orphan goes to init, or to us when an earlier test made us a child subreaper.
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = PidGone(child) && (::waitpid(child, nullptr, WNOHANG) >= 0 || errno == ECHILD);
    if (!gone) std::this_thread::sleep_for(milliseconds(10));
  }
  ::waitpid(child, nullptr, WNOHANG);
  return gone;
}

TEST(ProcessTest, TheChildExitsWithoutRunningTheCommandWhenWeDieAtItsGate) {
  // An executor that dies while it records the child: the child reads end-of-file at its
  // gate and exits.
  TempDir dir;
  ProcessSpec spec = Shell("touch ran");
  spec.cwd = dir.path();
  EXPECT_TRUE(ChildGoesWithItsDyingExecutor(spec, milliseconds(0)))
      << "the child outlived its executor";
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, ForegroundChildStaysInOurGroupAndStillWaitsForTheCallback) {
  TempDir dir;
  ProcessSpec spec = Shell("touch ran; cut -d' ' -f5 /proc/$$/stat");
  spec.cwd = dir.path();
  spec.foreground = true;
  pid_t started_pgid = 0;
  bool ran_at_start = true;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity&, pid_t pgid) {
    started_pgid = pgid;
    ran_at_start = std::filesystem::exists(dir.File("ran"));
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(started_pgid, -1);
  EXPECT_EQ(r.pgid, -1);
  EXPECT_FALSE(ran_at_start);
  EXPECT_EQ(r.stdout_tail, std::to_string(getpgrp()) + "\n");
}

TEST(ProcessTest, DaemonHoldingThePipeDoesNotHangUs) {
  // A grandchild in another session keeps stdout open after the shell exits: we stop reading
  // after eof_grace instead of waiting for it.
  TempDir dir;
  ProcessSpec spec = Shell("echo before; setsid sh -c 'echo $$ > daemon.pid; exec sleep 30' &"
                           " while [ ! -s daemon.pid ]; do sleep 0.01; done; exit 0");
  spec.cwd = dir.path();
  spec.eof_grace = milliseconds(200);
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1);
  long elapsed = ElapsedMs(start);
  pid_t daemon = ReadPid(dir.File("daemon.pid"));
  EXPECT_FALSE(PidGone(daemon)) << "a daemon of a step that ended by itself keeps running";
  ::kill(daemon, SIGKILL);
  ::waitpid(daemon, nullptr, 0);  // an orphan: re-parented to us, the child subreaper
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stdout_tail, "before\n");
  EXPECT_LT(elapsed, 3000);
}

// ---------------------------------------------------------------------- every descendant

TEST(ProcessTest, ASetsidChildDiesWithItsTimedOutStep) {
  // The child leaves the step's process group and session; kill(-pgid) alone misses it.
  TempDir dir;
  ProcessSpec spec = Shell(
      "setsid sh -c 'echo $$ > child.pid; exec sleep 300' >/dev/null 2>&1 &"
      " while [ ! -s child.pid ]; do sleep 0.01; done; sleep 30");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(1000);
  spec.kill_grace = milliseconds(2000);
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(ElapsedMs(start), 3000);
  const pid_t child = ReadPid(dir.File("child.pid"));
  EXPECT_TRUE(EventuallyGone(child));
  EXPECT_FALSE(r.sigkill_sent) << "SIGTERM was enough";
}

TEST(ProcessTest, AnOrphanedSetsidGrandchildDiesWithItsTimedOutStepAndIsReaped) {
  // A daemon that double-forks: its parent exits at once, so it is re-parented to us (the
  // child subreaper), not to init, and found there.
  TempDir dir;
  ProcessSpec spec = Shell(
      "(setsid sh -c 'echo $$ > orphan.pid; exec sleep 300' >/dev/null 2>&1 &);"
      " while [ ! -s orphan.pid ]; do sleep 0.01; done; sleep 30");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(1000);
  ProcessResult r = RunProcess(spec, -1);
  EXPECT_TRUE(r.timed_out);
  const pid_t orphan = ReadPid(dir.File("orphan.pid"));
  EXPECT_TRUE(EventuallyGone(orphan));
  EXPECT_EQ(::waitpid(orphan, nullptr, WNOHANG), -1) << "reaped already, no zombie of ours";
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, ADescendantIgnoringSigtermInItsOwnSessionGetsSigkill) {
  TempDir dir;
  ProcessSpec spec = Shell(
      "setsid sh -c 'trap \"\" TERM; echo $$ > deaf.pid; while :; do sleep 0.05; done'"
      " >/dev/null 2>&1 & while [ ! -s deaf.pid ]; do sleep 0.01; done; sleep 30");
  spec.cwd = dir.path();
  spec.timeout = milliseconds(500);
  spec.kill_grace = milliseconds(500);
  ProcessResult r = RunProcess(spec, -1);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(r.sigkill_sent) << "the deaf descendant outlived SIGTERM";
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("deaf.pid"))));
}

TEST(ProcessTest, ACancelledStepTakesItsSetsidChildrenWithIt) {
  TempDir dir;
  ProcessSpec spec = Shell("setsid sleep 300 >/dev/null 2>&1 & echo $! > child.pid; sleep 30");
  spec.cwd = dir.path();
  CancelFlag cancel;
  std::thread canceller([&] {
    for (int i = 0; i < 200 && ReadFile(dir.File("child.pid")).empty(); ++i)
      std::this_thread::sleep_for(milliseconds(10));
    std::this_thread::sleep_for(milliseconds(100));
    cancel.Cancel();
  });
  ProcessResult r = RunProcess(spec, cancel.fd());
  canceller.join();
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(EventuallyGone(ReadPid(dir.File("child.pid"))));
}

TEST(ProcessTest, ADaemonOfAnEarlierStepSurvivesALaterStepsTimeout) {
  // Deliberately detached services (setsid, output redirected) of a step that ended by itself
  // keep running, also when a later step is terminated: it started before that step.
  TempDir dir;
  ProcessSpec first = Shell(
      "(setsid sh -c 'echo $$ > service.pid; exec sleep 300' >/dev/null 2>&1 &);"
      " while [ ! -s service.pid ]; do sleep 0.01; done");
  first.cwd = dir.path();
  ASSERT_TRUE(RunProcess(first, -1).ok());
  const pid_t service = ReadPid(dir.File("service.pid"));

  ProcessSpec second = Shell("sleep 30");
  second.timeout = milliseconds(300);
  EXPECT_TRUE(RunProcess(second, -1).timed_out);
  EXPECT_FALSE(PidGone(service)) << "a later step's timeout ended an earlier step's service";
  ::kill(service, SIGKILL);
  ::waitpid(service, nullptr, 0);
}

TEST(ProcessTest, ExecutorDescriptorsAreNotInherited) {
  int fd = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(fd, 3);
  ProcessResult r = RunProcess(Shell("test -e /proc/$$/fd/" + std::to_string(fd) +
                                     " && echo leaked || echo closed"),
                               -1);
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stdout_tail, "closed\n");
}

TEST(ProcessTest, BlockedSignalsAreNotInherited) {
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  // exec: the shell blocks signals of its own while it waits for a child it forked.
  ProcessResult r = RunProcess(Shell("exec grep SigBlk /proc/self/status"), -1);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stdout_tail, "SigBlk:\t0000000000000000\n");
}

TEST(ProcessTest, TheEnvironmentIsPassedExactly) {
  // Names a shell would not keep (not identifiers) and our order: ours first, in our order,
  // then the additions in name order.
  ProcessSpec spec = Shell("tr '\\0' '\\n' < /proc/$$/environ");
  spec.env_add = {{"RUNBOOK_TEST_Z", "z"}, {"RUNBOOK.TEST-A", "a b"}, {"IFS", ":"}};
  std::vector<std::string> expected;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("IFS=", 0) != 0) expected.push_back(entry);
  }
  expected.push_back("IFS=:");
  expected.push_back("RUNBOOK.TEST-A=a b");
  expected.push_back("RUNBOOK_TEST_Z=z");
  Captured c;
  ProcessResult r = RunProcess(spec, -1, c.Callback());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(c.out, expected);
}

TEST(ProcessTest, ThreadsRunProcessesAtOnce) {
  // Each child starts in our memory until it execs: children started by several threads at
  // once must each get their own arguments, descriptors and output.
  constexpr int kThreads = 6, kEach = 15;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < kEach; ++i) {
        const std::string word = "thread" + std::to_string(t) + "-" + std::to_string(i);
        ProcessSpec spec = Shell("echo \"$WORD\" $$; echo \"$WORD\" >&2");
        spec.env_add = {{"WORD", word}};
        ProcessResult r = RunProcess(spec, -1);
        if (!r.ok() || r.stdout_tail != word + " " + std::to_string(r.pid) + "\n" ||
            r.stderr_tail != word + "\n") {
          ++wrong[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(kThreads, 0));
}

TEST(ProcessTest, IgnoredSigpipeIsNotInherited) {
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &old), 0);
  // `yes` dies of SIGPIPE when head exits; with SIGPIPE ignored it would report EPIPE instead.
  ProcessResult r = RunProcess(Shell("yes | head -c 3 >/dev/null; grep SigIgn /proc/$$/status"),
                               -1);
  sigaction(SIGPIPE, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stderr_tail, "");
  const std::string mask_hex = r.stdout_tail.substr(r.stdout_tail.find(':') + 1);
  const unsigned long long mask = std::stoull(mask_hex, nullptr, 16);
  EXPECT_EQ(mask & (1ull << (SIGPIPE - 1)), 0u) << r.stdout_tail;
}

// ---------------------------------------------------------------- a shell at its own gate

/// The program a process runs now, from /proc.
std::string ExeOf(pid_t pid) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
}

TEST(ProcessTest, AGatedShellStartsUpBeforeTheStartCallbackButRunsNothingUntilItReturns) {
  TempDir dir;
  ProcessSpec spec = GatedShell("touch ran");
  spec.cwd = dir.path();
  std::string exe_at_start;
  bool ran_during = true, in_group = false;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity& child, pid_t pgid) {
    exe_at_start = ExeOf(child.pid);
    in_group = ::getpgid(child.pid) == pgid;
    std::this_thread::sleep_for(milliseconds(300));
    ran_during = std::filesystem::exists(dir.File("ran"));
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.error;
  // Exec'd already: the shell itself, not us (a child before exec runs our program).
  EXPECT_EQ(exe_at_start, std::filesystem::canonical("/bin/sh").string());
  EXPECT_TRUE(in_group);
  EXPECT_FALSE(ran_during) << "the script ran while the start callback was still recording";
  EXPECT_TRUE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, AFailedStartCallbackMeansAGatedShellNeverRunsItsScript) {
  TempDir dir;
  ProcessSpec spec = GatedShell("touch ran; sleep 30");
  spec.cwd = dir.path();
  auto start = steady_clock::now();
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity&, pid_t) {
    std::this_thread::sleep_for(milliseconds(100));  // the shell is at its gate by now
    return Status::Error("audit log unwritable");
  });
  EXPECT_TRUE(r.spawn_failed);
  EXPECT_EQ(r.error, "audit log unwritable");
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_TRUE(PidGone(r.pid));
  EXPECT_EQ(::waitpid(r.pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, AGatedShellExitsWithoutRunningItsScriptWhenWeDieAtItsGate) {
  TempDir dir;
  ProcessSpec spec = GatedShell("touch ran");
  spec.cwd = dir.path();
  // By 100 ms the shell has started up and waits at its gate.
  EXPECT_TRUE(ChildGoesWithItsDyingExecutor(spec, milliseconds(100)))
      << "the shell outlived its executor";
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessTest, AShellThatCannotStartFailsBeforeTheStartCallback) {
  ProcessSpec spec = GatedShell("true");
  spec.argv[0] = "/nonexistent/sh";
  bool started = false;
  ProcessResult r = RunProcess(spec, -1, {}, [&](const ProcessIdentity&, pid_t) {
    started = true;
    return Status::Ok();
  });
  EXPECT_FALSE(started);  // nothing to record: nothing runs
  EXPECT_TRUE(r.spawn_failed);
  EXPECT_EQ(r.error, "could not start /nonexistent/sh: No such file or directory");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, AGatedScriptSeesOnlyItsStdioAndItsLinesKeepTheirNumbers) {
  ProcessResult r = RunProcess(
      GatedShell("for fd in 3 4 5 6 7 8 9; do test -e /proc/$$/fd/$fd && echo \"$fd open\"; done\n"
                 "echo second line\nno-such-command-here"),
      -1);
  EXPECT_EQ(r.exit_status, 127);
  EXPECT_EQ(r.stdout_tail, "second line\n");
  EXPECT_EQ(r.stderr_tail, "/bin/sh: 3: no-such-command-here: not found\n");
}

TEST(ProcessTest, AGatedScriptThatDoesNotParseFailsAsTheShellSays) {
  // The shell reads the script's first line, the gate's included, before it runs any of it:
  // it may end before we open the gate, which is no failure of ours.
  ProcessResult r = RunProcess(GatedShell("if"), -1, {}, [](const ProcessIdentity&, pid_t) {
    std::this_thread::sleep_for(milliseconds(100));
    return Status::Ok();
  });
  EXPECT_FALSE(r.spawn_failed) << r.error;
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.stderr_tail.find("Syntax error"), std::string::npos) << r.stderr_tail;
}

}  // namespace
}  // namespace runbook
