#include "app/recover.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
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

}  // namespace
}  // namespace runbook
