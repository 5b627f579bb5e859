#include "steps/process_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace runbook {
namespace {

using std::chrono::milliseconds;
using testing::ReadFile;
using testing::TempDir;

/// Starts `command` with /bin/sh in a new process group it leads, as RunProcess would but
/// without it (no subreaper, no gate): what `runbook recover` finds after a crash.
pid_t StartGroupLeader(const std::string& command, const std::string& cwd) {
  const pid_t pid = fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

/// Whether `pid` runs (exists and is not a zombie).
bool Running(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

pid_t WaitForPid(const std::string& path) {
  for (int i = 0; i < 300 && ReadFile(path).empty(); ++i)
    std::this_thread::sleep_for(milliseconds(10));
  const std::string text = ReadFile(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

TEST(ProcessIdentityTest, TellsAProcessFromAnotherWithItsPid) {
  EXPECT_TRUE(std::regex_match(CurrentBootId(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                          "[0-9a-f]{12}")))
      << CurrentBootId();
  const ProcessIdentity me = IdentifyProcess(getpid());
  EXPECT_EQ(me.pid, getpid());
  EXPECT_EQ(me.boot_id, CurrentBootId());
  EXPECT_GT(me.start_time, 0);
  EXPECT_TRUE(SameProcess(me));

  ProcessIdentity later_start = me;
  ++later_start.start_time;  // our pid, but a process started at another time
  EXPECT_FALSE(SameProcess(later_start));
  ProcessIdentity other_boot = me;
  other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_FALSE(SameProcess(other_boot)) << "after a reboot nothing is the recorded process";
  ProcessIdentity unknown = me;
  unknown.start_time = 0;
  EXPECT_FALSE(SameProcess(unknown));
  unknown = me;
  unknown.boot_id.clear();
  EXPECT_FALSE(SameProcess(unknown));
}

TEST(ProcessIdentityTest, AnExitedProcessIsNoLongerTheSame) {
  const pid_t pid = fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  const ProcessIdentity child = IdentifyProcess(pid);
  EXPECT_GT(child.start_time, 0);
  EXPECT_TRUE(SameProcess(child));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(SameProcess(child));
  EXPECT_EQ(IdentifyProcess(pid).start_time, 0);
}

TEST(ProcessTreeTest, EndsTheGroupAndADescendantInItsOwnSession) {
  TempDir dir;
  const pid_t leader = StartGroupLeader(
      "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' >/dev/null 2>&1 & exec sleep 300",
      dir.path());
  const pid_t escaped = WaitForPid(dir.File("escaped.pid"));
  ASSERT_GT(escaped, 0);
  ASSERT_NE(getpgid(escaped), leader) << "the descendant left the group";

  ProcessTree tree(IdentifyProcess(leader), /*adopt_orphans=*/false);
  EXPECT_FALSE(tree.Ended());
  tree.Terminate();
  bool ended = false;
  for (int i = 0; i < 200 && !(ended = tree.Ended()); ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(ended);
  EXPECT_FALSE(Running(escaped));
  EXPECT_FALSE(Running(leader));
  ::waitpid(leader, nullptr, 0);
  ::waitpid(escaped, nullptr, WNOHANG);  // ours only if this process is a subreaper
}

TEST(ProcessTreeTest, KillEndsWhatIgnoresSigterm) {
  TempDir dir;
  const pid_t leader = StartGroupLeader(
      "setsid sh -c 'trap \"\" TERM; echo $$ > deaf.pid; while :; do sleep 0.05; done'"
      " >/dev/null 2>&1 & trap '' TERM; while :; do sleep 0.05; done",
      dir.path());
  const pid_t deaf = WaitForPid(dir.File("deaf.pid"));
  ASSERT_GT(deaf, 0);
  ProcessTree tree(IdentifyProcess(leader), /*adopt_orphans=*/false);
  tree.Terminate();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(tree.Ended());
  EXPECT_TRUE(Running(deaf));
  tree.Kill();
  bool ended = false;
  for (int i = 0; i < 200 && !(ended = tree.Ended()); ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(ended);
  EXPECT_FALSE(Running(deaf));
  ::waitpid(leader, nullptr, 0);
  ::waitpid(deaf, nullptr, WNOHANG);
}

TEST(ProcessTreeTest, AProcessGroupIsAliveWhileANonZombieMemberRuns) {
  const pid_t pid = fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::pause();
    ::_exit(0);
  }
  ::setpgid(pid, pid);
  EXPECT_TRUE(ProcessGroupAlive(pid));
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 100 && Running(pid); ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_FALSE(ProcessGroupAlive(pid)) << "a zombie does not count";
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(ProcessGroupAlive(pid));
  EXPECT_FALSE(ProcessGroupAlive(0));
  EXPECT_FALSE(ProcessGroupAlive(1));
}

}  // namespace
}  // namespace runbook
