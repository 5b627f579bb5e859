// The crash matrix (SPEC §5 "Crashes and recovery", docs/recovery.md): the built `runbook` is
// killed with SIGKILL right after each audit record it writes (the RUNBOOK_TEST_CRASH_AFTER_EVENT
// hook, app/crash_hook.h), `recover` too, twice in a row, and after each crash `recover` must
// leave the run in a terminal state with exactly one run_finished, no step process left, each
// rollback action of a step that started run at least once and in order, no rollback for a
// step that never started, `audit verify` and `replay --verify` passing and the lock free.
// Also for a run over ssh where a host fails within max_fail (SPEC §5 "Partial failures"):
// each host is undone where its steps ran, with its own values, and nowhere else.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/sshd_fixture.h"

namespace {

namespace fs = std::filesystem;

// How one `runbook` process ended.
struct Exit {
  bool killed = false;  // by SIGKILL: the hook fired
  int code = -1;        // exit status when it exited
  std::string output;   // stdout and stderr
};

// Runs `runbook ARGS` in `dir` with `dir`/audit.db, killed after its `crash_after`-th audit
// record when that is not 0. posix_spawn, not fork: forking a big (sanitized) test binary a
// few hundred times costs more than the test itself.
Exit Runbook(const fs::path& dir, const std::vector<std::string>& args, int crash_after = 0,
             const fs::path& kill_when_exists = {}) {
  const std::string bin = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
  const fs::path out_file = dir / "output.txt";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string var = *e;
    if (var.rfind("RUNBOOK_", 0) != 0 && var.rfind("NO_COLOR=", 0) != 0) env.push_back(var);
  }
  env.push_back("RUNBOOK_AUDIT_DB=" + (dir / "audit.db").string());
  env.push_back("NO_COLOR=1");
  if (crash_after > 0)
    env.push_back("RUNBOOK_TEST_CRASH_AFTER_EVENT=" + std::to_string(crash_after));
  std::vector<char*> envp, argv{const_cast<char*>(bin.c_str())};
  for (std::string& v : env) envp.push_back(v.data());
  envp.push_back(nullptr);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  Exit e;
  int status = 0;
  if (spawned != 0) return e;
  if (!kill_when_exists.empty()) {
    // SIGKILL from outside, at a moment no audit record marks: while a step's command runs.
    for (int i = 0; i < 1000 && !fs::exists(kill_when_exists); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGKILL);
  }
  if (waitpid(pid, &status, 0) != pid) return e;
  e.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
  std::ifstream in(out_file);
  std::stringstream text;
  text << in.rdbuf();
  e.output = text.str();
  return e;
}

// Rows of `sql` on the audit database, each column as text.
std::vector<std::vector<std::string>> Query(const fs::path& dir, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((dir / "audit.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(st); ++c) {
          const unsigned char* t = sqlite3_column_text(st, c);
          row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
        }
        rows.push_back(std::move(row));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return rows;
}

std::string One(const fs::path& dir, const std::string& sql) {
  auto rows = Query(dir, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

// Live processes whose environment names run `run_id`: the steps runbook started for it.
std::vector<int> StepProcessesOf(const std::string& run_id) {
  const std::string needle = "RUNBOOK_RUN_ID=" + run_id + std::string(1, '\0');
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream env(entry.path() / "environ", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if ((std::string(1, '\0') + text).find(std::string(1, '\0') + needle) != std::string::npos)
      pids.push_back(std::stoi(name));
  }
  return pids;
}

// The rollback log with each run of repeated lines (an action re-run after a crash) kept once.
std::vector<std::string> RollbackLines(const fs::path& log) {
  std::vector<std::string> lines;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("do-", 0) == 0) continue;
    if (lines.empty() || lines.back() != line) lines.push_back(line);
  }
  return lines;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : " ") + s;
  return out.empty() ? "(none)" : out;
}

const char* const kSteps[] = {"a", "b", "c"};

class CrashMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef RUNBOOK_TEST_HOOKS
    GTEST_SKIP() << "built without RUNBOOK_TEST_HOOKS: runbook has no crash hook";
#endif
    // The test kills processes, not the machine: what it checks does not depend on fsync
    // reaching a disk, so its databases live on tmpfs where there is one (several times
    // faster: every audit record is a synced transaction).
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                              ? fs::path("/dev/shm")
                              : fs::temp_directory_path();
    root_ = base / ("runbook-crash-" + std::to_string(getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }

  // A fresh folder with the runbook: steps a, b and c (c fails), each with a rollback that
  // appends to `log`, and a global rollback. `b_command` replaces b's command when given.
  fs::path Case(const std::string& name, const std::string& b_command = "") {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    const std::string log = (dir / "log").string();
    std::string text = "runbook: crash-matrix\nlock: crash-matrix\nsteps:\n";
    for (const std::string id : kSteps) {
      std::string command = "echo do-" + id + " >> " + log;
      if (id == "b" && !b_command.empty()) command = b_command;
      if (id == "c") command += "; exit 1";
      text += "  - id: " + id + "\n    shell: \"" + command + "\"\n    kill_grace: 2s\n" +
              "    rollback: {shell: \"echo undo-" + id + " >> " + log + "\"}\n";
    }
    text += "rollback:\n  - id: global\n    shell: \"echo global >> " + log + "\"\n";
    std::ofstream(dir / "rb.yaml") << text;
    std::ofstream(dir / "next.yaml")
        << "runbook: next\nlock: crash-matrix\nsteps:\n  - id: one\n    shell: \"true\"\n";
    return dir;
  }

  // What a crashed run had made durable: its id, the steps whose step_started is recorded,
  // and whether it had left `pending`.
  struct Crashed {
    std::string run_id;
    std::vector<std::string> started;
    bool left_pending = false;
  };
  Crashed ReadCrashed(const fs::path& dir) {
    Crashed c;
    c.run_id = One(dir, "SELECT run_id FROM runs");
    for (const auto& row :
         Query(dir,
               "SELECT step FROM events WHERE event = 'step_started' AND phase = 'step' "
               "ORDER BY seq"))
      c.started.push_back(row[0]);
    c.left_pending = One(dir, "SELECT count(*) FROM events WHERE event = 'state_changed'") != "0";
    return c;
  }

  // Checks everything the SPEC promises once `recover` has finished `crashed`. `where` names
  // the kill point in messages.
  void ExpectRecovered(const fs::path& dir, const Crashed& crashed, const std::string& where) {
    SCOPED_TRACE(where);
    const std::string& id = crashed.run_id;
    const std::string state = One(dir, "SELECT state FROM runs WHERE run_id = '" + id + "'");
    EXPECT_EQ(state, crashed.left_pending ? "rolled_back" : "aborted");
    EXPECT_EQ(One(dir, "SELECT count(*) FROM events WHERE event = 'run_finished' AND run_id = '" +
                           id + "'"),
              "1");
    EXPECT_EQ(StepProcessesOf(id), std::vector<int>{}) << "step processes left";

    // Each started step's rollback, last first, then the global rollback; nothing for a
    // step that never started.
    std::vector<std::string> expected;
    for (auto it = crashed.started.rbegin(); it != crashed.started.rend(); ++it)
      expected.push_back("undo-" + *it);
    if (crashed.left_pending) expected.push_back("global");
    EXPECT_EQ(Join(RollbackLines(dir / "log")), Join(expected));

    Exit verify = Runbook(dir, {"audit", "verify"});
    EXPECT_EQ(verify.code, 0) << verify.output;
    Exit replay = Runbook(dir, {"replay", id, "--verify"});
    EXPECT_EQ(replay.code, 0) << replay.output;
    Exit next = Runbook(dir, {"run", "next.yaml"});
    EXPECT_EQ(next.code, 0) << "the lock is not free: " << next.output;
  }

  // Recovers after a crash: no run left unfinished.
  void Recover(const fs::path& dir, const std::string& where) {
    Exit r = Runbook(dir, {"recover"});
    ASSERT_FALSE(r.killed) << where;
    ASSERT_TRUE(r.code == 0 || r.code == 1 || r.code == 5)
        << where << ": recover exited " << r.code << "\n"
        << r.output;
  }

  // The record number (1 = the run row) of `event` of step `step` in an uncrashed run.
  int RecordOf(const std::string& event, const std::string& step) {
    const fs::path dir = Case("reference-" + event + "-" + step);
    Exit full = Runbook(dir, {"run", "rb.yaml"});
    EXPECT_EQ(full.code, 1) << full.output;
    const std::string seq = One(dir, "SELECT seq FROM events WHERE event = '" + event +
                                         "' AND step = '" + step + "' ORDER BY seq LIMIT 1");
    return seq.empty() ? 0 : 1 + std::stoi(seq);
  }

  int RecoverMatrix(const std::string& name, int run_kill);

  fs::path root_;
};

TEST_F(CrashMatrixTest, RunKilledAtEveryRecordIsRecovered) {
  int kill_points = 0;
  for (int k = 1;; ++k) {
    const fs::path dir = Case("run-" + std::to_string(k));
    Exit run = Runbook(dir, {"run", "rb.yaml"}, k);
    if (!run.killed) {
      // Past the last record: the run ends by itself, rolled back (c fails).
      EXPECT_EQ(run.code, 1) << run.output;
      break;
    }
    ++kill_points;
    const Crashed crashed = ReadCrashed(dir);
    ASSERT_FALSE(crashed.run_id.empty()) << "record " << k;
    const std::string where = "run killed after record " + std::to_string(k);
    Recover(dir, where);
    ExpectRecovered(dir, crashed, where);
    if (HasFailure()) break;
  }
  std::printf("crash matrix: run killed at %d kill points, each recovered\n", kill_points);
  EXPECT_GE(kill_points, 40);
}

// The run dies at `run_kill`, then `recover` dies at its j-th record, then a second `recover`
// at its j-th too, and a third finishes the run; for every j. Returns the number of j.
int CrashMatrixTest::RecoverMatrix(const std::string& name, int run_kill) {
  int kill_points = 0;
  for (int j = 1;; ++j) {
    const fs::path dir = Case(name + "-" + std::to_string(j));
    EXPECT_TRUE(Runbook(dir, {"run", "rb.yaml"}, run_kill).killed);
    const Crashed crashed = ReadCrashed(dir);
    Exit first = Runbook(dir, {"recover"}, j);
    if (!first.killed) {
      EXPECT_EQ(first.code, 1) << first.output;
      ExpectRecovered(dir, crashed, "recover not killed");
      break;
    }
    ++kill_points;
    const std::string where = name + ": recover killed twice after record " + std::to_string(j);
    Exit second = Runbook(dir, {"recover"}, j);
    // The second one may finish the run: its j-th record may be past its last.
    EXPECT_TRUE(second.killed || second.code == 0 || second.code == 1) << where << "\n"
                                                                       << second.output;
    Recover(dir, where);
    ExpectRecovered(dir, crashed, where);
    if (HasFailure()) break;
  }
  return kill_points;
}

// Killed once step c's start is durable, everything is left to roll back; killed in the
// middle of the rollback chain, recover re-runs the cut-off action and goes on.
TEST_F(CrashMatrixTest, RecoverKilledAtEveryRecordTwiceInARowIsRecovered) {
  const int at_c = RecordOf("step_started", "c");
  const int in_chain = RecordOf("rollback_started", "b-rollback-1");
  ASSERT_GT(at_c, 0);
  ASSERT_GT(in_chain, 0);
  const int from_c = RecoverMatrix("from-c", at_c);
#ifdef __SANITIZE_ADDRESS__
  // Sanitized processes start ten times slower (scripts/test-sanitized.sh): one run point is
  // enough there to look for memory errors; the normal build runs both.
  const int from_chain = 0;
  (void)in_chain;
#else
  const int from_chain = RecoverMatrix("from-chain", in_chain);
  EXPECT_GE(from_chain, 10);
#endif
  std::printf(
      "crash matrix: recover killed twice in a row at %d kill points (run killed at "
      "record %d) and %d (run killed at record %d), each recovered\n",
      from_c, at_c, from_chain, in_chain);
  EXPECT_GE(from_c, 20);
}

// The run dies while step b's process runs (its process group is recorded): `recover` stops
// that process before it rolls back. (Killed at b's process_started record instead, b's
// command never starts: it waits for the executor's go-ahead, which never comes.)
TEST_F(CrashMatrixTest, StepStillRunningIsStoppedByRecover) {
  const fs::path dir = Case("running", "echo do-b >> " + (root_ / "running" / "log").string() +
                                           "; echo $$ > b.pid; exec sleep 60");
  ASSERT_TRUE(Runbook(dir, {"run", "rb.yaml"}, 0, dir / "b.pid").killed);
  const Crashed crashed = ReadCrashed(dir);
  int pid = 0;
  for (int i = 0; i < 500 && pid == 0; ++i) {
    std::ifstream in(dir / "b.pid");
    if (!(in >> pid)) {
      pid = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_GT(pid, 0) << "step b never wrote its pid";
  EXPECT_EQ(StepProcessesOf(crashed.run_id), std::vector<int>{pid}) << "b outlives the executor";
  Recover(dir, "run killed while b runs");
  ExpectRecovered(dir, crashed, "run killed while b runs");
}

// ---------------------------------------------------------------- a host failing within max_fail

// Lines of a file.
std::vector<std::string> FileLines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t CountOf(const std::vector<std::string>& lines, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

// flip runs on three hosts and fails on 127.0.0.2 within max_fail 1: its rollback runs there
// at once; after runs on the two others; c fails, so the run rolls back after and flip where
// they ran. Each line in `log` names the host and, for flip's undo, the value of that host's
// own output.
class CrashMatrixSshTest : public CrashMatrixTest {
 protected:
  void SetUp() override {
    CrashMatrixTest::SetUp();
    if (IsSkipped()) return;
    sshd_ = std::make_unique<runbook::testing::TestSshd>(3);
    ASSERT_TRUE(sshd_->ok()) << sshd_->error();
  }

  fs::path SshCase(const std::string& name) {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    const std::string log = (dir / "log").string();
    const std::string me = "me=$(echo $SSH_CONNECTION | cut -d' ' -f3); ";
    std::string hosts;
    for (const std::string& spec : sshd_->specs) hosts += (hosts.empty() ? "" : ", ") + spec;
    std::ofstream(dir / "rb.yaml")
        << "runbook: crash-hosts\nlock: crash-hosts\n"
        << "targets:\n  web:\n    hosts: [" << hosts << "]\n    user: root\n"
        << "    identity_file: " << sshd_->path("client") << "\n"
        << "    known_hosts: " << sshd_->path("known_hosts") << "\n"
        << "steps:\n"
        << "  - id: flip\n    ssh:\n      target: web\n      max_fail: 1\n      command: |\n"
        << "        " << me << "echo do-flip-$me >> " << log << "\n"
        << "        echo was-$me; test $me != 127.0.0.2\n"
        << "    outputs: {prev: stdout}\n"
        << "    rollback:\n      ssh:\n        target: web\n        command: |\n"
        << "          " << me << "echo undo-flip-$me={{ steps.flip.outputs.prev }} >> " << log
        << "\n"
        << "  - id: after\n    ssh:\n      target: web\n      command: |\n"
        << "        " << me << "echo do-after-$me >> " << log << "\n"
        << "    rollback:\n      ssh:\n        target: web\n        command: |\n"
        << "          " << me << "echo undo-after-$me >> " << log << "\n"
        << "  - id: c\n    shell: \"exit 1\"\n";
    std::ofstream(dir / "next.yaml")
        << "runbook: next\nlock: crash-hosts\nsteps:\n  - id: one\n    shell: \"true\"\n";
    return dir;
  }

  // What recover must have done, given what the crashed run had recorded and written.
  // Whether the undo of flip on the failed host is recorded as done there.
  static bool FailedHostUndoRecorded(const fs::path& dir) {
    return One(dir,
               "SELECT count(*) FROM events WHERE event = 'host_finished' AND phase = "
               "'rollback' AND json_extract(detail, '$.ok') = 1 AND json_extract(detail, "
               "'$.host') LIKE '127.0.0.2:%'") != "0";
  }

  // `undo_recorded`: FailedHostUndoRecorded before recover ran.
  void ExpectHostsUndone(const fs::path& dir, const std::vector<std::string>& before,
                         bool undo_recorded, const std::string& where) {
    SCOPED_TRACE(where);
    const std::vector<std::string> after = FileLines(dir / "log");
    const std::vector<std::string> added(after.begin() + static_cast<long>(before.size()),
                                         after.end());
    const bool flip_started =
        One(dir, "SELECT count(*) FROM events WHERE event = 'step_started' AND step = 'flip'") !=
        "0";
    EXPECT_EQ(CountOf(after, "do-after-127.0.0.2"), 0u) << "after ran on the failed host";
    EXPECT_EQ(CountOf(after, "undo-after-127.0.0.2"), 0u) << "after was undone where it never ran";
    for (const std::string& host : sshd_->addresses) {
      if (CountOf(after, "do-after-" + host) > 0) {
        EXPECT_GT(CountOf(after, "undo-after-" + host), 0u) << "after not undone on " << host;
      }
      if (flip_started) {
        EXPECT_GT(CountOf(after, "undo-flip-" + host + "="), 0u) << "flip not undone on " << host;
      }
      // A host's output is durable once the host is done; the undo recover runs there sees
      // it then, and an empty value (nobody knows it) only before.
      const bool output_recorded =
          One(dir,
              "SELECT count(*) FROM events WHERE event = 'host_finished' AND step = "
              "'flip' AND json_extract(detail, '$.host') LIKE '" +
                  host + ":%'") != "0";
      for (const std::string& line : added) {
        if (line.rfind("undo-flip-" + host + "=", 0) != 0) continue;
        const std::string value = line.substr(("undo-flip-" + host + "=").size());
        EXPECT_TRUE(value == "was-" + host || (!output_recorded && value.empty()))
            << line << " (the output of " << host << " was recorded: " << output_recorded << ")";
      }
    }
    // The failed host's undo, once recorded as done, is not run again. (Done but not yet
    // recorded, as when the executor died before the commit that holds its host_finished, it
    // runs again: rollback actions run at least once.)
    if (CountOf(before, "undo-flip-127.0.0.2=") > 0 && undo_recorded) {
      EXPECT_EQ(CountOf(added, "undo-flip-127.0.0.2="), 0u) << "undone twice on 127.0.0.2";
    }
  }

  std::unique_ptr<runbook::testing::TestSshd> sshd_;
};

TEST_F(CrashMatrixSshTest, RunWithAHostFailingWithinMaxFailKilledAtEveryRecordIsRecovered) {
#ifdef __SANITIZE_ADDRESS__
  // Sanitized processes start ten times slower: every seventh record is enough there to look
  // for memory errors; the normal build kills at each.
  const int stride = 7;
#else
  const int stride = 1;
#endif
  int kill_points = 0;
  for (int k = 1;; k += stride) {
    const fs::path dir = SshCase("ssh-" + std::to_string(k));
    Exit run = Runbook(dir, {"run", "rb.yaml"}, k);
    if (!run.killed) {
      EXPECT_EQ(run.code, 1) << run.output;
      ExpectHostsUndone(dir, {}, false, "not killed");
      break;
    }
    ++kill_points;
    const Crashed crashed = ReadCrashed(dir);
    ASSERT_FALSE(crashed.run_id.empty()) << "record " << k;
    const std::string where = "run killed after record " + std::to_string(k);
    // A remote command of the dead run may still be finishing its line.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::vector<std::string> before = FileLines(dir / "log");
    const bool undo_recorded = FailedHostUndoRecorded(dir);
    Recover(dir, where);
    SCOPED_TRACE(where);
    const std::string state =
        One(dir, "SELECT state FROM runs WHERE run_id = '" + crashed.run_id + "'");
    EXPECT_EQ(state, crashed.left_pending ? "rolled_back" : "aborted");
    EXPECT_EQ(One(dir, "SELECT count(*) FROM events WHERE event = 'run_finished'"), "1");
    ExpectHostsUndone(dir, before, undo_recorded, where);
    Exit verify = Runbook(dir, {"audit", "verify"});
    EXPECT_EQ(verify.code, 0) << verify.output;
    Exit replay = Runbook(dir, {"replay", crashed.run_id, "--verify"});
    EXPECT_EQ(replay.code, 0) << replay.output;
    Exit next = Runbook(dir, {"run", "next.yaml"});
    EXPECT_EQ(next.code, 0) << "the lock is not free: " << next.output;
    if (HasFailure()) break;
  }
  std::printf(
      "crash matrix: a run with a host failing within max_fail killed at %d kill "
      "points, each recovered\n",
      kill_points);
  EXPECT_GE(kill_points, 40 / stride);
}

}  // namespace
