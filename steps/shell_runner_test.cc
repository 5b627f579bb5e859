#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "steps/process.h"
#include "steps/step_runners.h"
#include "testing/fake_step_context.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using Outcome = StepResult::Outcome;
using testing::FakeStepContext;

using testing::ReadFile;
using testing::TempDir;

bool PidGone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

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

class ShellRunnerTest : public ::testing::Test {
 protected:
  ShellRunnerTest() { context_.runbook_.dir = dir_.path(); }

  StepResult Run(const std::string& command, bool dry_run = false) {
    step_.id = "s1";
    step_.name = "s1";
    ShellAction action;
    action.command = command;
    action.cwd = cwd_;
    action.env = env_;
    step_.action = action;
    StepRequest request;
    request.step = &step_;
    request.dry_run = dry_run;
    return runner_->Run(request, context_);
  }

  std::vector<std::string> Lines(bool is_stderr) {
    std::vector<std::string> out;
    for (const auto& line : context_.lines) {
      EXPECT_EQ(line.host, "");
      if (line.is_stderr == is_stderr) out.push_back(line.text);
    }
    return out;
  }

  TempDir dir_;
  FakeStepContext context_;
  StepSpec step_;
  std::string cwd_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<StepRunner> runner_ = MakeShellRunner();
};

TEST_F(ShellRunnerTest, SucceedsAndCapturesOutput) {
  StepResult r = Run("echo hello; echo warn >&2");
  EXPECT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.stdout_text, "hello\n");
  EXPECT_EQ(r.stderr_text, "warn\n");
  EXPECT_EQ(Lines(false), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(Lines(true), (std::vector<std::string>{"warn"}));
  EXPECT_EQ(r.detail["exit_status"], 0);
  EXPECT_TRUE(r.detail.contains("duration_ms"));
  EXPECT_FALSE(r.detail.contains("signal"));
  EXPECT_GE(r.duration.count(), 0);
}

TEST_F(ShellRunnerTest, RecordsTheProcessGroupAndItsIdentityBeforeTheCommandRuns) {
  class CheckingContext : public FakeStepContext {
   public:
    Status Record(EventKind event, const nlohmann::json& detail) override {
      if (event == EventKind::kProcessStarted) {
        const pid_t pid = detail["pid"].get<pid_t>();
        alive = !PidGone(pid);
        ran_before = std::filesystem::exists(ran);
        identity_now = IdentifyProcess(pid);
      }
      return FakeStepContext::Record(event, detail);
    }
    std::string ran;
    bool alive = false;
    bool ran_before = true;
    ProcessIdentity identity_now;
  } context;
  context.runbook_.dir = dir_.path();
  context.ran = dir_.File("ran");
  step_.action = ShellAction{"touch ran; sleep 0.2", "", {}};
  StepRequest request;
  request.step = &step_;
  StepResult r = runner_->Run(request, context);
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  ASSERT_EQ(context.records.size(), 1u);
  EXPECT_EQ(context.records[0].event, "process_started");
  EXPECT_TRUE(context.alive);
  EXPECT_FALSE(context.ran_before) << "the command ran before its process was recorded";
  EXPECT_TRUE(std::filesystem::exists(context.ran));
  const nlohmann::json& detail = context.records[0].detail;
  EXPECT_EQ(detail["pgid"], r.detail["pgid"]);
  EXPECT_EQ(detail["pid"], r.detail["pgid"]);
  EXPECT_NE(r.detail["pgid"].get<pid_t>(), getpgrp());
  // What tells the group's leader from a later process with the same pid.
  EXPECT_EQ(detail["boot_id"], CurrentBootId());
  EXPECT_FALSE(CurrentBootId().empty());
  EXPECT_EQ(detail["start_time"], context.identity_now.start_time);
  EXPECT_GT(detail["start_time"].get<int64_t>(), 0);
}

TEST_F(ShellRunnerTest, AnUnrecordableProcessRunsOnlyInARollback) {
  // Write-ahead: a forward step's command does not run when its process_started cannot be
  // written; a rollback action's does, as the executor runs rollbacks it cannot record.
  class UnwritableContext : public FakeStepContext {
   public:
    Status Record(EventKind, const nlohmann::json&) override {
      return Status::IOError("disk full");
    }
  } context;
  context.runbook_.dir = dir_.path();
  step_.action = ShellAction{"touch ran", "", {}};
  StepRequest request;
  request.step = &step_;
  StepResult forward = runner_->Run(request, context);
  EXPECT_EQ(forward.outcome, Outcome::kFailed);
  EXPECT_EQ(forward.error, "disk full");
  EXPECT_FALSE(std::filesystem::exists(dir_.File("ran")));

  request.phase = Phase::kRollback;
  StepResult rollback = runner_->Run(request, context);
  EXPECT_EQ(rollback.outcome, Outcome::kSucceeded) << rollback.error;
  EXPECT_TRUE(std::filesystem::exists(dir_.File("ran")));
}

TEST_F(ShellRunnerTest, NonZeroExitFails) {
  StepResult r = Run("echo partial; exit 3");
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error, "exit status 3");
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_EQ(r.stdout_text, "partial\n");
  EXPECT_EQ(r.detail["exit_status"], 3);
}

TEST_F(ShellRunnerTest, SignalDeathNamesTheSignal) {
  StepResult r = Run("kill -KILL $$");
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.exit_status, 137);
  EXPECT_EQ(r.error, "exit status 137 (killed by SIGKILL)");
  EXPECT_EQ(r.detail["signal"], SIGKILL);
}

TEST_F(ShellRunnerTest, TimeoutKillsTheGroup) {
  step_.timeout = milliseconds(300);
  auto start = steady_clock::now();
  StepResult r = Run("echo $$ > shell.pid; sleep 30 & echo $! > child.pid; wait");
  EXPECT_LT(ElapsedMs(start), 2000);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_EQ(r.error, "timed out after 300ms (SIGTERM sent to the process group)");
  EXPECT_TRUE(EventuallyGone(std::stoi(ReadFile(dir_.File("shell.pid")))));
  EXPECT_TRUE(EventuallyGone(std::stoi(ReadFile(dir_.File("child.pid")))));
  EXPECT_EQ(r.detail["signal"], SIGTERM);
}

TEST_F(ShellRunnerTest, TimeoutEscalatesToSigkill) {
  step_.timeout = milliseconds(1000);
  step_.kill_grace = milliseconds(300);
  StepResult r = Run("trap '' TERM; echo $$ > deaf.pid; sleep 30 & echo $! > child.pid; wait; wait");
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_EQ(r.error,
            "timed out after 1s (SIGTERM sent to the process group, SIGKILL after 300ms)");
  EXPECT_TRUE(EventuallyGone(std::stoi(ReadFile(dir_.File("deaf.pid")))));
  EXPECT_TRUE(EventuallyGone(std::stoi(ReadFile(dir_.File("child.pid")))));
}

TEST_F(ShellRunnerTest, CancelInterruptsPromptly) {
  // Cancelled once the shell has written its pid (not after a fixed sleep a loaded machine
  // could outlast); promptness is measured from the cancel.
  const std::string pid_file = dir_.File("shell.pid");
  steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    for (int i = 0; i < 3000 && ReadFile(pid_file).empty(); ++i)
      std::this_thread::sleep_for(milliseconds(10));
    cancelled_at = steady_clock::now();
    context_.cancel.Cancel();
  });
  StepResult r = Run("echo $$ > shell.pid; sleep 30");
  canceller.join();
  long elapsed = ElapsedMs(cancelled_at);
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_EQ(r.error, "interrupted");
  EXPECT_LT(elapsed, 1500);
  ASSERT_FALSE(ReadFile(pid_file).empty());
  EXPECT_TRUE(EventuallyGone(std::stoi(ReadFile(pid_file))));
}

TEST_F(ShellRunnerTest, AlreadyCancelledRunsNothing) {
  context_.cancel.Cancel();
  StepResult r = Run("touch ran");
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("ran")));
}

TEST_F(ShellRunnerTest, EnvironmentAddsExtraEnvAndStepEnv) {
  context_.env = {{"RUNBOOK_PARAM_VERSION", "1.2.3"}, {"SHARED", "from executor"}};
  env_ = {{"SHARED", "from step"}, {"PGHOST", "db1"}};
  StepResult r = Run("printf '%s %s %s' \"$RUNBOOK_PARAM_VERSION\" \"$SHARED\" \"$PGHOST\"");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_EQ(r.stdout_text, "1.2.3 from step db1");
}

TEST_F(ShellRunnerTest, DefaultCwdIsTheRunbookFolder) {
  StepResult r = Run("pwd -P");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_EQ(r.stdout_text, std::filesystem::canonical(dir_.path()).string() + "\n");
}

TEST_F(ShellRunnerTest, RelativeCwdIsResolvedAgainstTheRunbookFolder) {
  std::filesystem::create_directory(dir_.File("db"));
  cwd_ = "./db";
  StepResult r = Run("pwd -P");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_EQ(r.stdout_text, std::filesystem::canonical(dir_.File("db")).string() + "\n");
}

TEST_F(ShellRunnerTest, MissingCwdFails) {
  cwd_ = "missing";
  StepResult r = Run("true");
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error, "cwd " + dir_.File("missing") + " does not exist");
  EXPECT_TRUE(context_.records.empty());
}

TEST_F(ShellRunnerTest, DryRunRunsNothing) {
  context_.secrets = {"hunter2"};
  StepResult r = Run("touch made; echo hunter2", /*dry_run=*/true);
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("made")));
  EXPECT_EQ(r.detail["dry_run"], true);
  EXPECT_EQ(r.detail["command"], "touch made; echo ***");
  EXPECT_TRUE(context_.records.empty());
  EXPECT_TRUE(context_.lines.empty());
}

TEST_F(ShellRunnerTest, KeepsTheLast64KiBOfLargeOutput) {
  StepResult r = Run("seq 1 100000; seq 1 100000 >&2");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_EQ(r.stdout_text.size(), 64u * 1024);
  EXPECT_EQ(r.stderr_text.size(), 64u * 1024);
  EXPECT_TRUE(r.stdout_text.ends_with("\n99999\n100000\n"));
  EXPECT_TRUE(r.stderr_text.ends_with("\n99999\n100000\n"));
  EXPECT_EQ(Lines(false).size(), 100000u);
  EXPECT_EQ(Lines(true).size(), 100000u);
}

TEST_F(ShellRunnerTest, TrailingTextWithoutNewlineIsALine) {
  StepResult r = Run("printf 'no newline'");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error;
  EXPECT_EQ(Lines(false), (std::vector<std::string>{"no newline"}));
  EXPECT_EQ(r.stdout_text, "no newline");
}


TEST_F(ShellRunnerTest, ValuesTravelInTheEnvironmentNotTheArgumentList) {
  context_.scope.secrets["tok"] = "tokSECRETargv";
  context_.scope.params["v"] = "a b $(touch pwned)\nc";
  StepResult r = Run("tr '\\0' ' ' < /proc/$$/cmdline > argv; cat <<EOF\n{{ params.v }}\nEOF\n"
                     "printf %s {{ secrets.tok }}");
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.error << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "a b $(touch pwned)\nc\ntokSECRETargv");
  const std::string argv = ReadFile(dir_.path() + "/argv");
  EXPECT_NE(argv.find("RUNBOOK_VALUE_"), std::string::npos) << argv;
  EXPECT_EQ(argv.find("tokSECRETargv"), std::string::npos) << argv;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/pwned"));
}

TEST_F(ShellRunnerTest, PiecesOfALongLineSayTheyContinue) {
  StepResult r = Run("printf '%5000s\\n' x");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(context_.lines.size(), 2u);
  EXPECT_TRUE(context_.lines[0].continues);
  EXPECT_EQ(context_.lines[0].text.size(), 4096u);
  EXPECT_FALSE(context_.lines[1].continues);
}

}  // namespace
}  // namespace runbook
