// A team sharing one PostgreSQL store from several machines (issue 12; docs/audit.md
// "PostgreSQL" and "Locks across machines"), through the built `runbook` binary.
//
// A "machine" is a process started under `unshare --uts --pid --fork --mount-proc` that sets a
// host name of its own: another host name and another pid namespace, so the store cannot check
// the holder of a lock by its pid and must go by its heartbeat, as it would for a real second
// machine. The machines share this machine's files (the runbooks and the marker files their
// steps write) and the one PostgreSQL server of testing/postgres_fixture.h, a fresh database
// per test, whose password file (PGPASSFILE) every child inherits.
//
// Cases: two executors on two hosts racing for one lock; four executors appending a thousand
// events each to one chain; an executor killed with SIGKILL mid-step and recovered from another
// host, once the heartbeat has expired and only then, by exactly one of two recovers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/pg_store.h"  // PgStoreOptions: the heartbeat expiry
#include "testing/postgres_fixture.h"
#include "testing/temp_dir.h"
#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using runbook::testing::Output;
using runbook::testing::PostgresServer;
using runbook::testing::Quote;
using runbook::testing::ReadFile;
using runbook::testing::RunRunbook;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// The parent of `pid` and its command name, from /proc; false when it is gone.
bool ParentAndName(pid_t pid, pid_t* parent, std::string* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return false;
  *name = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  rest >> state >> *parent;
  return true;
}

// A descendant of `ancestor` named `name`, by its pid in our namespace; 0 when there is none.
pid_t FindDescendant(pid_t ancestor, const std::string& name) {
  std::map<pid_t, pid_t> parent_of;
  std::map<pid_t, std::string> name_of;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string base = entry.path().filename();
    if (base.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(base);
    pid_t parent = 0;
    std::string comm;
    if (ParentAndName(pid, &parent, &comm)) {
      parent_of[pid] = parent;
      name_of[pid] = comm;
    }
  }
  for (const auto& [pid, comm] : name_of) {
    if (comm != name) continue;
    for (pid_t p = parent_of[pid]; p > 1; p = parent_of.count(p) ? parent_of[p] : 0)
      if (p == ancestor) return pid;
  }
  return 0;
}

// One command run by the built `runbook` on a machine of its own (the file comment): `runbook
// ARGS` in `cwd` as host `host`, with the test's store, its output (stdout and stderr) kept in
// a file. With a barrier, the machine comes up, says it is ready, and waits for Go() before
// it starts runbook, so that several machines start it at the same moment. The machine, and
// every process in it, dies with this object.
class Machine {
 public:
  Machine(const std::string& host, const fs::path& cwd, const std::string& audit_db,
          const std::vector<std::string>& args, bool barrier)
      : host_(host),
        output_(cwd / ("output-" + host + "-" + std::to_string(++count_) + ".txt")),
        ready_(cwd / ("ready-" + host + "-" + std::to_string(count_))) {
    const std::string bin = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    // sh is the namespace's init, so runbook is an ordinary process that a SIGKILL ends like
    // any other; when it ends, sh exits with its status and takes the rest of the machine (a
    // step's processes) with it, as a machine that dies would.
    std::string script = "hostname \"$0\" || exit 90\n";
    if (barrier) script += ": > " + Quote(ready_.string()) + " && read go || exit 91\n";
    script += "\"$@\" </dev/null\nexit $?\n";
    std::vector<std::string> argv = {
        "/usr/bin/unshare", "--kill-child", "--uts", "--pid", "--fork", "--mount-proc",
        "/bin/sh",          "-c",           script,  host,    bin};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string var = *e;
      if (var.rfind("RUNBOOK_", 0) != 0 && var.rfind("NO_COLOR=", 0) != 0 &&
          var.rfind("XDG_", 0) != 0)
        env.push_back(var);
    }
    env.push_back("RUNBOOK_AUDIT_DB=" + audit_db);
    env.push_back("NO_COLOR=1");
    // No settings file of this machine's user, and a state folder of the test's own.
    env.push_back("XDG_CONFIG_HOME=" + (cwd / "config").string());
    env.push_back("XDG_STATE_HOME=" + (cwd / ("state-" + host)).string());
    std::vector<char*> argp, envp;
    for (std::string& a : argv) argp.push_back(a.data());
    argp.push_back(nullptr);
    for (std::string& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);

    int pipe_fds[2] = {-1, -1};
    if (barrier && pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    if (barrier)
      posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);
    else
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, argp[0], &actions, nullptr, argp.data(), envp.data()) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
    if (barrier) {
      close(pipe_fds[0]);
      go_ = pipe_fds[1];
    }
  }
  ~Machine() {
    if (go_ >= 0) close(go_);
    if (pid_ > 0 && !code_) {
      kill(pid_, SIGKILL);  // --kill-child: the machine goes with it
      waitpid(pid_, nullptr, 0);
    }
  }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& host() const { return host_; }
  bool ready() const { return fs::exists(ready_); }
  /// Lets a machine waiting at the barrier start runbook.
  void Go() {
    if (go_ < 0) return;
    (void)!write(go_, "\n", 1);
    close(go_);
    go_ = -1;
  }
  /// The exit status once it has ended (128 + signal when runbook was killed; 90 and 91 when
  /// the machine could not be made); nothing while it runs.
  std::optional<int> Poll() {
    if (code_ || pid_ <= 0) return code_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_)
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code_;
  }
  /// Waits for the end, at most `limit`: -1 when it did not end (the destructor ends it).
  int Wait(std::chrono::seconds limit = std::chrono::seconds(120)) {
    const auto deadline = Clock::now() + limit;
    while (!Poll() && pid_ > 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!Poll()) return -1;
    return *code_;
  }
  std::string output() const { return ReadFile(output_); }
  /// The runbook process of this machine, by its pid here; 0 when it does not run.
  pid_t ExecutorPid() const { return pid_ > 0 ? FindDescendant(pid_, "runbook") : 0; }

 private:
  static inline int count_ = 0;
  std::string host_;
  fs::path output_;
  fs::path ready_;
  pid_t pid_ = 0;
  int go_ = -1;
  std::optional<int> code_;
};

class TeamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &PostgresServer::Shared();
    ASSERT_TRUE(server_->ok()) << "cannot start a PostgreSQL server: " << server_->error();
    ASSERT_NE(getenv("PGPASSFILE"), nullptr) << "the fixture set no PGPASSFILE for the children";
    signal(SIGPIPE, SIG_IGN);  // Go() to a machine that has died is an error, not our end
    url_ = server_->NewDatabase();
    ASSERT_FALSE(url_.empty()) << "cannot make a database: " << server_->error();
    dir_ = std::make_unique<runbook::testing::TempDir>("runbook-team");
    ASSERT_FALSE(dir_->path().empty()) << "cannot make a scratch folder";
    // The machines are made with unshare: say so plainly when it cannot make one here.
    Machine probe("probe-host", dir_->path(), url_, {"--version"}, /*barrier=*/false);
    ASSERT_TRUE(probe.started()) << "cannot start /usr/bin/unshare";
    const int code = probe.Wait(std::chrono::seconds(30));
    ASSERT_EQ(code, 0) << "cannot simulate a machine with `unshare --uts --pid --fork "
                          "--mount-proc` and `hostname` here (these tests need root or the "
                          "equivalent capabilities); it exited "
                       << code << ":\n"
                       << probe.output();
  }

  fs::path dir() const { return dir_->path(); }
  std::string Write(const std::string& name, const std::string& text) const {
    return dir_->Write(name, text);
  }
  // The first value of `sql` on this test's database, as the superuser.
  std::string Sql(const std::string& sql) const { return server_->Value(url_, sql); }

  // `runbook ARGS` on this machine (the test's own host), with this test's store.
  Output Runbook(const std::string& args) const { return RunRunbook(dir(), url_, args); }

  // Asserts that `audit verify` over the store says the chain is intact; its JSON.
  nlohmann::json VerifyIntact() const {
    const Output verify = Runbook("audit verify --json --audit-db " + Quote(url_));
    EXPECT_EQ(verify.code, 0) << "audit verify failed:\n" << verify.text;
    nlohmann::json report = nlohmann::json::parse(verify.text, nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << "audit verify --json printed no JSON:\n" << verify.text;
    if (report.is_discarded()) return {};
    EXPECT_EQ(report.value("ok", false), true) << "audit verify: " << report.dump(2);
    return report;
  }

  // Every event of the store, or of one run, from `audit export`.
  std::vector<nlohmann::json> Export(const std::string& run_id = "") const {
    const Output out = Runbook("audit export --audit-db " + Quote(url_) +
                               (run_id.empty() ? "" : " --run " + Quote(run_id)));
    EXPECT_EQ(out.code, 0) << "audit export failed:\n" << out.text;
    std::vector<nlohmann::json> events;
    for (const std::string& line : Lines(out.text)) {
      nlohmann::json e = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(e.is_discarded()) << "audit export printed a line that is not JSON: " << line;
      if (!e.is_discarded()) events.push_back(std::move(e));
    }
    return events;
  }

  PostgresServer* server_ = nullptr;
  std::string url_;
  std::unique_ptr<runbook::testing::TempDir> dir_;
};

// Starts each of `machines` (made with a barrier) at the same moment: once all are ready.
::testing::AssertionResult StartTogether(const std::vector<Machine*>& machines) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (Machine* m : machines) {
    if (!m->started()) return ::testing::AssertionFailure() << m->host() << " did not start";
    while (!m->ready()) {
      if (m->Poll() || Clock::now() > deadline)
        return ::testing::AssertionFailure() << "machine " << m->host() << " did not come up:\n"
                                             << m->output();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  for (Machine* m : machines) m->Go();
  return ::testing::AssertionSuccess();
}

// Two executors on two hosts start runs of two runbooks with the same lock at the same
// moment, five times: each time exactly one runs, and the other is refused (exit 4) naming the
// host and run that hold the lock. The winner's step holds the lock until the loser has been
// refused, so the race is decided by the lock and never by who happened to start late.
TEST_F(TeamStoreTest, TwoHostsRaceForOneLockAndOnlyOneRuns) {
  const std::string marker = (dir() / "ran").string();
  const std::string release = (dir() / "release").string();
  auto runbook_text = [&](const std::string& name) {
    return "runbook: " + name +
           "\nenvironment: prod\nlock: prod/web\nsteps:\n"
           "  - id: deploy\n    timeout: 60s\n    shell: |\n"
           "      echo \"$(hostname) $RUNBOOK_RUN_ID\" >> " +
           Quote(marker) + "\n" + "      i=0; while [ ! -e " + Quote(release) +
           " ] && [ $i -lt 1000 ]; do\n"
           "        sleep 0.05; i=$((i+1)); done\n";
  };
  Write("web-release.yaml", runbook_text("web-release"));
  Write("web-hotfix.yaml", runbook_text("web-hotfix"));

  std::map<std::string, int> wins;
  const int kRounds = 5;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    fs::remove(release);
    const size_t lines_before = Lines(ReadFile(marker)).size();
    Machine alpha("alpha", dir(), url_, {"run", "web-release.yaml"}, true);
    Machine bravo("bravo", dir(), url_, {"run", "web-hotfix.yaml"}, true);
    ASSERT_TRUE(StartTogether({&alpha, &bravo}));

    // The loser ends first: the winner waits in its step for `release`.
    Machine* loser = nullptr;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    bool both_ran = false;
    while (!loser && !both_ran && Clock::now() < deadline) {
      if (Lines(ReadFile(marker)).size() > lines_before + 1) {
        both_ran = true;
      } else if (alpha.Poll()) {
        loser = &alpha;
      } else if (bravo.Poll()) {
        loser = &bravo;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    runbook::testing::WriteFile(release, "");
    ASSERT_FALSE(both_ran) << "both runs hold lock 'prod/web' at once; marker file:\n"
                           << ReadFile(marker) << "alpha (exit " << alpha.Wait() << "):\n"
                           << alpha.output() << "bravo (exit " << bravo.Wait() << "):\n"
                           << bravo.output();
    ASSERT_NE(loser, nullptr) << "neither run was refused within 60 s: both hold the lock?\n"
                              << "alpha:\n"
                              << alpha.output() << "bravo:\n"
                              << bravo.output();
    Machine* winner = loser == &alpha ? &bravo : &alpha;
    const int winner_code = winner->Wait();
    const std::vector<std::string> ran = Lines(ReadFile(marker));
    ASSERT_EQ(ran.size(), lines_before + 1)
        << "not exactly one run's step ran this round; marker file:\n"
        << ReadFile(marker) << winner->host() << " (exit " << winner_code << "):\n"
        << winner->output() << loser->host() << " (exit " << loser->Poll().value_or(-1) << "):\n"
        << loser->output();
    EXPECT_EQ(*loser->Poll(), 4) << loser->host() << " was not refused:\n" << loser->output();
    EXPECT_EQ(winner_code, 0) << winner->host() << ":\n" << winner->output();

    // The step says where it ran and for which run: the refusal must name both.
    const std::string& line = ran.back();
    const std::string ran_on = line.substr(0, line.find(' '));
    const std::string run_id = line.substr(line.find(' ') + 1);
    EXPECT_EQ(ran_on, winner->host()) << "the step ran on another machine than the winner's";
    const std::string refusal = loser->output();
    EXPECT_NE(refusal.find("lock 'prod/web' is held by run " + run_id), std::string::npos)
        << "the refusal does not name the run holding the lock (" << run_id << "):\n"
        << refusal;
    EXPECT_NE(refusal.find(" on " + winner->host() + ", since "), std::string::npos)
        << "the refusal does not name the host holding the lock (" << winner->host() << "):\n"
        << refusal;
    EXPECT_NE(refusal.find("wait for it to finish"), std::string::npos)
        << "the refusal does not take the running holder for alive:\n"
        << refusal;
    ++wins[winner->host()];
  }
  std::string tally;
  for (const auto& [host, n] : wins) tally += " " + host + "=" + std::to_string(n);
  RecordProperty("wins", tally);

  const nlohmann::json report = VerifyIntact();
  EXPECT_EQ(Sql("SELECT count(*) FROM runs"), std::to_string(kRounds))
      << "a refused run left a run behind";
  EXPECT_EQ(Sql("SELECT count(*) FROM runs WHERE state = 'succeeded'"), std::to_string(kRounds));
  EXPECT_EQ(Sql("SELECT count(*) FROM locks"), "0") << "a lock was left held";
}

// Four executors on four hosts, each with its own lock, run at once runbooks of enough `true`
// steps to write over a thousand events each into the one chain. The chain stays one line:
// `audit verify` says intact and counts every event, the chain's events are exactly the four
// runs' events, each run's in order from run_started to run_finished, and the runs did overlap.
TEST_F(TeamStoreTest, FourExecutorsAppendAThousandEventsEachToOneChain) {
  const int kExecutors = 4;
  const int kSteps = 170;  // 6 events a step
  std::vector<std::unique_ptr<Machine>> machines;
  std::vector<Machine*> all;
  for (int i = 0; i < kExecutors; ++i) {
    std::string text = "runbook: svc" + std::to_string(i) + "\nenvironment: prod\nsteps:\n";
    for (int s = 0; s < kSteps; ++s)
      text += "  - {id: s" + std::to_string(s) + ", shell: \"true\"}\n";
    Write("svc" + std::to_string(i) + ".yaml", text);
    machines.push_back(std::make_unique<Machine>(
        "ci-" + std::to_string(i + 1), dir(), url_,
        std::vector<std::string>{"run", "svc" + std::to_string(i) + ".yaml"}, true));
    all.push_back(machines.back().get());
  }
  const auto started = Clock::now();
  ASSERT_TRUE(StartTogether(all));
  for (Machine* m : all) {
    const int code = m->Wait(std::chrono::seconds(240));
    EXPECT_EQ(code, 0) << m->host() << ":\n" << m->output();
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() /
      1000.0;
  ASSERT_FALSE(HasFailure());

  const std::vector<nlohmann::json> events = Export();
  std::map<std::string, std::vector<const nlohmann::json*>> by_run;
  int switches = 0;  // consecutive events of different runs: how much the runs interleaved
  for (size_t i = 0; i < events.size(); ++i) {
    by_run[events[i]["run_id"]].push_back(&events[i]);
    EXPECT_EQ(events[i]["seq"], static_cast<long long>(i + 1)) << "the chain has a gap";
    if (i > 0) {
      EXPECT_EQ(events[i]["prev_hash"], events[i - 1]["hash"])
          << "the chain forks at seq " << events[i]["seq"];
      if (events[i]["run_id"] != events[i - 1]["run_id"]) ++switches;
    }
  }
  ASSERT_EQ(by_run.size(), static_cast<size_t>(kExecutors)) << "not one run per executor";
  size_t sum = 0;
  for (const auto& [run_id, mine] : by_run) {
    SCOPED_TRACE("run " + run_id);
    EXPECT_GE(mine.size(), 1000u) << "a run wrote fewer than 1,000 events";
    EXPECT_EQ((*mine.front())["event"], "run_started");
    EXPECT_EQ((*mine.back())["event"], "run_finished");
    EXPECT_EQ((*mine.back())["to"], "succeeded");
    for (size_t i = 1; i < mine.size(); ++i) {
      ASSERT_LT((*mine[i - 1])["seq"], (*mine[i])["seq"]);
      ASSERT_LE((*mine[i - 1])["ts"], (*mine[i])["ts"]) << "time runs backwards in a run";
      ASSERT_NE((*mine[i])["event"], "run_started") << "a second run_started";
      if (i + 1 < mine.size()) {
        ASSERT_NE((*mine[i])["event"], "run_finished") << "run_finished before the end";
      }
    }
    // The run's own export is the same events.
    const std::vector<nlohmann::json> own = Export(run_id);
    ASSERT_EQ(own.size(), mine.size());
    for (size_t i = 0; i < own.size(); ++i) ASSERT_EQ(own[i], *mine[i]);
    sum += mine.size();
  }
  EXPECT_GT(switches, 2 * kExecutors)
      << "the runs followed one another in the chain instead of appending concurrently";

  const nlohmann::json report = VerifyIntact();
  EXPECT_EQ(report.value("events_checked", -1LL), static_cast<long long>(sum))
      << "audit verify did not check exactly the runs' events";
  EXPECT_EQ(report.value("head_seq", -1LL), static_cast<long long>(sum));
  RecordProperty("events", std::to_string(sum));
  RecordProperty("run_seconds", std::to_string(seconds));
  RecordProperty("interleavings", std::to_string(switches));
}

// An executor on host A is killed with SIGKILL while a step sleeps. While its last heartbeat
// is fresh, nothing on host B takes its run: recover leaves it alone and a run on the same
// lock is refused as held by a live executor. Once the heartbeat has expired, a run on B is
// refused and told to run recover; two recovers started at once on B and C roll the run back
// exactly once; and then the run on B goes through. The log verifies.
TEST_F(TeamStoreTest, DeadExecutorOnAnotherHostIsRecoveredOnceAfterItsHeartbeatExpires) {
  const std::string undo_log = (dir() / "rolled-back").string();
  const std::string hotfix_log = (dir() / "hotfix-ran").string();
  Write("db-migrate.yaml",
        "runbook: db-migrate\nenvironment: prod\nlock: prod/db\nsteps:\n"
        "  - id: prepare\n    shell: \"true\"\n"
        "    rollback: {shell: \"echo undo-prepare $(hostname) >> " +
            undo_log +
            "\"}\n"
            "  - id: migrate\n    shell: \"sleep 300\"\n    timeout: 10m\n"
            "    rollback: {shell: \"echo undo-migrate $(hostname) >> " +
            undo_log + "\"}\n");
  Write("db-hotfix.yaml",
        "runbook: db-hotfix\nenvironment: prod\nlock: prod/db\nsteps:\n"
        "  - id: fix\n    shell: \"echo fixed $(hostname) >> " +
            hotfix_log + "\"\n");
  const auto expiry =
      std::chrono::duration_cast<std::chrono::milliseconds>(runbook::PgStoreOptions{}.lock_expiry);

  Machine a("host-a", dir(), url_, {"run", "db-migrate.yaml"}, false);
  ASSERT_TRUE(a.started());
  // Wait for the migrate step's process to be in the log: then the executor is mid-step.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Sql("SELECT count(*) FROM events WHERE event = 'process_started' AND step = 'migrate'") !=
         "1") {
    ASSERT_FALSE(a.Poll()) << "the run on host-a ended before its migrate step:\n" << a.output();
    ASSERT_LT(Clock::now(), deadline) << "no process_started of migrate within 60 s:\n"
                                      << a.output();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string run_id = Sql("SELECT run_id FROM runs");
  const pid_t executor = a.ExecutorPid();
  ASSERT_GT(executor, 0) << "cannot find host-a's runbook process";
  ASSERT_EQ(kill(executor, SIGKILL), 0);
  EXPECT_EQ(a.Wait(std::chrono::seconds(30)), 128 + SIGKILL) << a.output();
  const auto killed = Clock::now();
  auto heartbeat_age_ms = [&] {
    const std::string age = Sql(
        "SELECT (extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::bigint FROM locks "
        "WHERE lock_key = 'prod/db'");
    return age.empty() ? -1 : std::stoll(age);
  };
  ASSERT_GE(heartbeat_age_ms(), 0) << "host-a's lock is not in the store";

  {
    SCOPED_TRACE("while host-a's heartbeat is fresh");
    Machine recover("host-b", dir(), url_, {"recover"}, false);
    const int code = recover.Wait();
    const std::string out = recover.output();
    ASSERT_LT(heartbeat_age_ms(), expiry.count())
        << "the first recover took so long that host-a's heartbeat expired; cannot test it";
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("run " + run_id + " is still running"), std::string::npos)
        << "recover did not say it leaves the live run alone:\n"
        << out;
    EXPECT_NE(out.find("host-a"), std::string::npos) << "recover did not name the host:\n" << out;
    ASSERT_FALSE(fs::exists(undo_log)) << "recover rolled back a live run:\n" << out;
    EXPECT_EQ(Sql("SELECT coalesce(state, 'unfinished') FROM runs WHERE run_id = '" + run_id + "'"),
              "unfinished");
    EXPECT_EQ(Sql("SELECT host FROM locks WHERE lock_key = 'prod/db'"), "host-a")
        << "recover took host-a's lock";

    Machine hotfix("host-b", dir(), url_, {"run", "db-hotfix.yaml"}, false);
    EXPECT_EQ(hotfix.Wait(), 4) << hotfix.output();
    EXPECT_NE(hotfix.output().find("is held by run " + run_id + " (pid "), std::string::npos)
        << "the run was not refused as held by a live executor:\n"
        << hotfix.output();
    EXPECT_NE(hotfix.output().find("on host-a, since"), std::string::npos) << hotfix.output();
    EXPECT_FALSE(fs::exists(hotfix_log));
  }

  // Host-a is silent from now on: wait until the store takes it for dead, by the server's
  // clock, and a little more so that a fraction of a second of rounding decides nothing.
  const auto margin = std::chrono::milliseconds(500);
  while (heartbeat_age_ms() < (expiry + margin).count()) {
    ASSERT_LT(Clock::now() - killed, expiry + std::chrono::seconds(30))
        << "host-a's heartbeat never grew older than the expiry; age " << heartbeat_age_ms()
        << " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  {
    SCOPED_TRACE("after the expiry, before recovery");
    Machine hotfix("host-b", dir(), url_, {"run", "db-hotfix.yaml"}, false);
    EXPECT_EQ(hotfix.Wait(), 4) << hotfix.output();
    EXPECT_NE(hotfix.output().find("is held by run " + run_id + ", whose executor"),
              std::string::npos)
        << hotfix.output();
    EXPECT_NE(hotfix.output().find("on host-a) is gone; run `runbook recover`"), std::string::npos)
        << "the refusal does not say to run recover:\n"
        << hotfix.output();
    EXPECT_FALSE(fs::exists(hotfix_log));
  }

  // Two recovers at once, on host-b and host-c: exactly one rolls the run back.
  Machine b("host-b", dir(), url_, {"recover", "--json"}, true);
  Machine c("host-c", dir(), url_, {"recover", "--json"}, true);
  ASSERT_TRUE(StartTogether({&b, &c}));
  const int b_code = b.Wait(), c_code = c.Wait();
  const std::string both = "host-b (exit " + std::to_string(b_code) + "):\n" + b.output() +
                           "host-c (exit " + std::to_string(c_code) + "):\n" + c.output();
  const bool b_recovered = b.output().find("\"run_id\":\"" + run_id + "\"") != std::string::npos;
  const bool c_recovered = c.output().find("\"run_id\":\"" + run_id + "\"") != std::string::npos;
  EXPECT_NE(b_recovered, c_recovered) << "not exactly one recover rolled the run back:\n" << both;
  const Machine& by = b_recovered ? b : c;
  EXPECT_EQ(b_recovered ? b_code : c_code, 1) << "the recovering recover: " << both;
  EXPECT_EQ(b_recovered ? c_code : b_code, 0) << "the other recover: " << both;
  // The step's process ran on host-a: its pid means nothing here, so it is not signalled.
  EXPECT_NE(by.output().find("the interrupted step ran on host-a; its processes there cannot "
                             "be stopped from"),
            std::string::npos)
      << by.output();

  EXPECT_EQ(Sql("SELECT state FROM runs WHERE run_id = '" + run_id + "'"), "rolled_back");
  EXPECT_EQ(ReadFile(undo_log), "undo-migrate " + by.host() + "\nundo-prepare " + by.host() + "\n")
      << "the rollback did not run exactly once, on the recovering host:\n"
      << both;
  EXPECT_EQ(
      Sql("SELECT count(*) FROM events WHERE run_id = '" + run_id + "' AND event = 'run_finished'"),
      "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM events WHERE run_id = '" + run_id +
                "' AND event = 'run_recovered'"),
            "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM locks"), "0") << "recover left the lock held";

  Machine hotfix("host-b", dir(), url_, {"run", "db-hotfix.yaml"}, false);
  EXPECT_EQ(hotfix.Wait(), 0) << "the run after recovery:\n" << hotfix.output();
  EXPECT_EQ(ReadFile(hotfix_log), "fixed host-b\n");

  VerifyIntact();
}

}  // namespace
