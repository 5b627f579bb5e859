#include "app/recover.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
#include "engine/events.h"
#include "steps/process.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::WriteTextFile;

// Runs `path` in a child process whose executor is killed (SIGKILL) by its own second step,
// so that the run is left unfinished in the audit database, as after a crash. The step waits
// a second first, so that its process group id is recorded before the executor dies.
void RunAndDie(const std::string& db, const std::string& path) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = AuditDatabase::Open(db);
    if (!store.ok()) _exit(90);
    testing::FakeSigner signer;
    std::unique_ptr<Environment> env = MakeSystemEnvironment();
    RunService service(**store, signer, *env);
    LoadedRunbook loaded = LoadRunbookWithParams(path, {});
    if (!loaded.ok()) _exit(91);
    RunRequest request;
    request.runbook = std::move(loaded.runbook);
    request.params = loaded.params;
    request.operator_name = "tester";
    RunStart start = service.Prepare(std::move(request));
    if (!start.status.ok()) _exit(92);
    runbook::testing::SilentReporter reporter;
    CancelFlag interrupt, hard_stop;
    service.Execute(*start.run, reporter, {&interrupt, &hard_stop});
    _exit(93);  // not reached: the second step kills this process
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the executor should have been killed, status " << status;
}

TEST(RecoverServiceTest, RollsBackARunWhoseExecutorDiedAndFreesItsLock) {
  runbook::testing::TempDir dir("app-recover");
  const std::string db = dir / "audit.db";
  WriteTextFile(dir / "rb.yaml", "runbook: app-recover\nlock: app-recover-lock\nsteps:\n"
                                 "  - id: one\n    shell: \"touch " + (dir / "one") + "\"\n"
                                 "    rollback: {shell: \"touch " + (dir / "undo-one") + "\"}\n"
                                 "  - id: two\n    shell: \"sleep 1; kill -9 $PPID; sleep 30\"\n"
                                 "    rollback: {shell: \"touch " + (dir / "undo-two") + "\"}\n");
  RunAndDie(db, dir / "rb.yaml");

  auto store = AuditDatabase::Open(db);
  ASSERT_TRUE(store.ok());
  std::vector<std::string> notes;
  testing::FakeEnvironment clock;
  RecoverService service(**store, clock, [&](std::string_view n) { notes.emplace_back(n); });
  runbook::testing::SilentReporter reporter;
  RecoverReport report = service.RecoverAll(reporter, "recoverer");
  ASSERT_EQ(report.runs.size(), 1u);
  ASSERT_TRUE(report.runs[0].recovered) << report.runs[0].status.message();
  EXPECT_EQ(report.recovered(), 1);
  EXPECT_EQ(report.runs[0].summary.state, "rolled_back");
  EXPECT_EQ(report.exit_code, 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-two")) << "the interrupted step is undone";
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-one")) << "then the completed one";
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("stopping process group"), std::string::npos) << notes[0];

  // Nothing is left to recover, and the lock is free for the next run.
  RecoverReport again = service.RecoverAll(reporter, "recoverer");
  EXPECT_TRUE(again.runs.empty());
  EXPECT_EQ(again.exit_code, 0);
  auto lock = (*store)->locks().TryLock("app-recover-lock", "next", static_cast<int>(getpid()),
                                LocalHostName());
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE(lock->acquired);
}

/// A pid that no process has now: a child that has exited and been reaped.
int DeadPid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return static_cast<int>(pid);
}

/// `sleep 300` leading its own process group: a process that is not the recorded one.
pid_t StartBystander() {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

/// Whether `pid` runs (exists and is not a zombie).
bool Running(pid_t pid) {
  const std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

/// Writes, as a dead executor would have left it, run `run_id` of a one-step runbook
/// interrupted in its step after recording `process` (process_started).
void WriteInterruptedRun(AuditDatabase& db, const runbook::testing::TempDir& dir,
                         const std::string& run_id, const ProcessStartedDetail& process) {
  const std::string text =
      "runbook: forged\nsteps:\n  - id: one\n    shell: \"sleep 30\"\n"
      "    rollback: {shell: \"touch undo-" +
      run_id + "\"}\n";
  WriteTextFile(dir / "rb.yaml", text);
  RunRecord run;
  run.run_id = run_id;
  run.runbook = "forged";
  run.runbook_path = dir / "rb.yaml";
  run.runbook_text = text;
  run.operator_name = "tester";
  run.host = LocalHostName();
  run.pid = DeadPid();
  run.started_at = std::chrono::system_clock::now();
  ASSERT_TRUE(db.events().BeginRun(run).ok());
  auto append = [&](EventKind kind, const std::string& phase, const std::string& step,
                    const std::string& from, const std::string& to, int attempt,
                    nlohmann::json detail) {
    AuditEvent e{
        std::chrono::system_clock::now(), kind, phase, step, from, to, attempt, std::move(detail)};
    ASSERT_TRUE(db.events().Append(run_id, e).ok());
  };
  RunStartedDetail started;
  started.runbook = "forged";
  started.operator_name = "tester";
  started.host = run.host;
  started.pid = run.pid;
  append(EventKind::kRunStarted, "run", "", "", "pending", 0, started);
  append(EventKind::kStateChanged, "step", "one", "pending", "step:one", 0,
         StateChangedDetail{"start"});
  append(EventKind::kStepStarted, "step", "one", "", "", 0,
         StepStartedDetail{.name = "one", .action = "shell", .description = "sleep 30"});
  append(EventKind::kAttemptStarted, "step", "one", "", "", 1, AttemptStartedDetail{"sleep 30"});
  append(EventKind::kProcessStarted, "step", "one", "", "", 1, process);
}

/// Recovers the one unfinished run and returns recover's notes.
std::vector<std::string> RecoverNotes(AuditDatabase& db) {
  std::vector<std::string> notes;
  testing::FakeEnvironment clock;
  RecoverService service(db, clock, [&](std::string_view n) { notes.emplace_back(n); });
  runbook::testing::SilentReporter reporter;
  RecoverReport report = service.RecoverAll(reporter, "recoverer");
  EXPECT_EQ(report.runs.size(), 1u);
  if (!report.runs.empty()) {
    EXPECT_TRUE(report.runs[0].recovered) << report.runs[0].status.message();
    EXPECT_EQ(report.runs[0].summary.state, "rolled_back");
  }
  return notes;
}

std::string Joined(const std::vector<std::string>& notes) {
  std::string all;
  for (const auto& n : notes) all += n + "\n";
  return all;
}

TEST(RecoverServiceTest, SignalsOnlyAProcessGroupProvablyTheRecordedOne) {
  runbook::testing::TempDir dir("app-recover-identity");
  auto store = AuditDatabase::Open(dir / "audit.db");
  ASSERT_TRUE(store.ok());
  const pid_t bystander = StartBystander();
  const ProcessIdentity real = IdentifyProcess(bystander);
  ASSERT_GT(real.start_time, 0);

  // The recorded pgid now belongs to a process that started at another time: pid reuse.
  WriteInterruptedRun(**store, dir, "reused",
                      {.pid = bystander,
                       .pgid = bystander,
                       .boot_id = real.boot_id,
                       .start_time = real.start_time - 1});
  std::vector<std::string> notes = RecoverNotes(**store);
  EXPECT_TRUE(Running(bystander)) << "a process that reused the recorded id was signalled";
  EXPECT_NE(Joined(notes).find("now belongs to another process"), std::string::npos)
      << Joined(notes);
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-reused")) << "the run is rolled back anyway";

  // Recorded in another boot: after a reboot nothing is signalled; the group counts as gone.
  WriteInterruptedRun(**store, dir, "rebooted",
                      {.pid = bystander,
                       .pgid = bystander,
                       .boot_id = "00000000-0000-0000-0000-000000000000",
                       .start_time = real.start_time});
  notes = RecoverNotes(**store);
  EXPECT_TRUE(Running(bystander)) << "a group recorded before a reboot was signalled";
  EXPECT_NE(Joined(notes).find("rebooted"), std::string::npos) << Joined(notes);
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-rebooted"));

  // An older record without the identity: not signalled, and recover says so.
  WriteInterruptedRun(**store, dir, "old", {.pid = bystander, .pgid = bystander});
  notes = RecoverNotes(**store);
  EXPECT_TRUE(Running(bystander)) << "a group recorded without its identity was signalled";
  EXPECT_NE(Joined(notes).find("without what identifies it"), std::string::npos) << Joined(notes);
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-old"));

  // The recorded process itself is stopped.
  WriteInterruptedRun(**store, dir, "real",
                      {.pid = bystander,
                       .pgid = bystander,
                       .boot_id = real.boot_id,
                       .start_time = real.start_time});
  notes = RecoverNotes(**store);
  EXPECT_NE(Joined(notes).find("stopping process group " + std::to_string(bystander)),
            std::string::npos)
      << Joined(notes);
  int status = 0;
  ASSERT_EQ(waitpid(bystander, &status, 0), bystander);
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_TRUE(std::filesystem::exists(dir / "undo-real"));
}

TEST(RecoverServiceTest, StopsADescendantThatLeftTheRecordedGroup) {
  runbook::testing::TempDir dir("app-recover-setsid");
  auto store = AuditDatabase::Open(dir / "audit.db");
  ASSERT_TRUE(store.ok());
  const pid_t leader = fork();
  if (leader == 0) {
    setpgid(0, 0);
    if (chdir(dir.path().c_str()) != 0) _exit(126);
    execl("/bin/sh", "sh", "-c",
          "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' >/dev/null 2>&1 & exec sleep 300",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(leader, leader);
  pid_t escaped = -1;
  for (int i = 0; i < 300 && escaped <= 0; ++i) {
    const std::string text = testing::ReadFile(dir / "escaped.pid");
    if (!text.empty())
      escaped = static_cast<pid_t>(std::stol(text));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(escaped, 0);
  const ProcessIdentity id = IdentifyProcess(leader);
  WriteInterruptedRun(
      **store, dir, "escape",
      {.pid = leader, .pgid = leader, .boot_id = id.boot_id, .start_time = id.start_time});
  RecoverNotes(**store);
  waitpid(leader, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !(gone = !Running(escaped)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(gone) << "a setsid descendant of the interrupted step survived recover";
}

}  // namespace
}  // namespace runbook
