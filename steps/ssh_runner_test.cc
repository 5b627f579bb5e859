// The ssh runner against a real OpenSSH server on loopback (sshd_fixture.h): 127.0.0.1 ..
// 127.0.0.12 on one port stand for twelve hosts. Commands find out which "host" they run on
// from $SSH_CONNECTION and leave files in the test's folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/step_runner.h"
#include "steps/ssh_session.h"
#include "steps/step_runners.h"
#include "testing/fake_step_context.h"
#include "testing/sshd_fixture.h"

namespace runbook {
namespace {

using testing::FreeLoopbackPort;
using testing::ProcessWithArgvRuns;
using testing::ReadFile;
using testing::ShOutput;
using testing::TempDir;
using testing::TestSshd;
using testing::WaitUntil;
using testing::WriteFile;
using Clock = std::chrono::steady_clock;

// The address the command was reached on: which "host" it runs on.
const std::string kAddr = "$(echo $SSH_CONNECTION | cut -d' ' -f3)";

int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Renders "{{ host }}" as the host and "{{ secrets.NAME }}" from `secret_values`, and notes
// which hosts commands were rendered for and how many threads were alive during output.
class SshTestContext : public testing::FakeStepContext {
 public:
  std::string Render(std::string_view tmpl, Quoting, std::string_view host) const override {
    std::string s(tmpl);
    Replace(&s, "{{ host }}", std::string(host));
    for (const auto& [name, value] : secret_values) Replace(&s, "{{ secrets." + name + " }}", value);
    std::lock_guard<std::mutex> lock(render_mu);
    rendered_for.emplace_back(host);
    return s;
  }
  ShellCommand RenderShell(std::string_view tmpl, std::string_view host) const override {
    return {Render(tmpl, Quoting::kShell, host), {}};
  }
  void OutputLine(std::string_view host, bool is_stderr, std::string_view line,
                  bool continues) override {
    if (count_threads) max_threads = std::max(max_threads, ThreadCount());
    FakeStepContext::OutputLine(host, is_stderr, line, continues);
    ++lines_seen;
  }
  std::vector<std::string> Lines(const std::string& host, bool is_stderr) {
    std::vector<std::string> out;
    for (const Line& l : lines) {
      if (l.host == host && l.is_stderr == is_stderr) out.push_back(l.text);
    }
    return out;
  }
  std::vector<nlohmann::json> HostRecords() {
    std::vector<nlohmann::json> out;
    for (const RecordedEvent& r : records) {
      if (r.event == "host_finished") out.push_back(r.detail);
    }
    return out;
  }

  std::map<std::string, std::string> secret_values;
  mutable std::mutex render_mu;
  mutable std::vector<std::string> rendered_for;
  bool count_threads = false;
  int max_threads = 0;
  std::atomic<int> lines_seen{0};  // output lines so far, for a test's other thread to watch

 private:
  static void Replace(std::string* s, const std::string& from, const std::string& to) {
    for (size_t at; (at = s->find(from)) != std::string::npos;) s->replace(at, from.size(), to);
  }
};

class SshRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { sshd_ = new TestSshd(12); }
  static void TearDownTestSuite() {
    delete sshd_;
    sshd_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(sshd_->ok()) << sshd_->error(); }

  std::vector<std::string> Hosts(int n) const {
    return std::vector<std::string>(sshd_->specs.begin(), sshd_->specs.begin() + n);
  }
  StepSpec Step(const std::string& command, int hosts = 3) const {
    StepSpec step;
    step.id = "remote";
    SshAction action;
    action.command = command;
    action.resolved.hosts = Hosts(hosts);
    action.resolved.user = "root";
    action.resolved.identity_file = sshd_->path("client");
    action.resolved.known_hosts = sshd_->path("known_hosts");
    action.resolved.connect_timeout = Duration(5000);
    step.action = action;
    step.kill_grace = Duration(2000);
    return step;
  }
  static SshAction& Action(StepSpec& step) { return std::get<SshAction>(step.action); }
  StepResult Run(const StepSpec& step, StepRequest request = {}) {
    request.step = &step;
    return MakeSshRunner()->Run(request, ctx_);
  }
  // A copy of one of the fixture's known_hosts files in this test's folder.
  std::string CopyKnownHosts(const std::string& name) {
    std::string path = work_ / ("kh-" + name);
    WriteFile(path, ReadFile(sshd_->path(name)));
    return path;
  }
  bool Exists(const std::string& name) const { return access((work_ / name).c_str(), F_OK) == 0; }
  // A remote command that marks that it started on its host (started-ADDR in the test's
  // folder), then waits up to 20 s until `hosts` hosts have; it fails if they never do.
  // What it proves does not depend on how fast logins are.
  std::string StartedBarrier(int hosts) const {
    const std::string n = std::to_string(hosts);
    return "touch " + work_ / "started-" + kAddr + "; for i in $(seq 400); do [ $(ls " +
           work_.path() + " | grep -c '^started-') -ge " + n + " ] && echo all " + n +
           " started && exit 0; sleep 0.05; done; exit 9";
  }
  // Whether `hosts` remote commands have marked that they started (StartedBarrier's marker).
  bool HostsStarted(int hosts) const {
    int started = 0;
    for (const auto& e : std::filesystem::directory_iterator(work_.path())) {
      started += e.path().filename().string().rfind("started-", 0) == 0;
    }
    return started >= hosts;
  }

  static TestSshd* sshd_;
  SshTestContext ctx_;
  TempDir work_;
};
TestSshd* SshRunnerTest::sshd_ = nullptr;

// ---------------------------------------------------------------- running commands

TEST_F(SshRunnerTest, RunsOnEveryHostWithPerHostOutputAndAuditRecords) {
  StepSpec step = Step("echo out-" + kAddr + "; echo err-" + kAddr + " >&2");
  step.outputs = {{"addr", "stdout"}, {"warn", "stderr"}};
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.hosts.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const HostResult& h = r.hosts[i];
    const std::string& a = sshd_->addresses[i];
    EXPECT_EQ(h.host, sshd_->specs[i]);
    EXPECT_TRUE(h.ok && h.reached) << h.error;
    EXPECT_EQ(h.exit_status, 0);
    EXPECT_EQ(h.stdout_text, "out-" + a + "\n");
    EXPECT_EQ(h.stderr_text, "err-" + a + "\n");  // no trace of the process-group marker
    EXPECT_EQ(h.outputs.at("addr"), "out-" + a);
    EXPECT_EQ(h.outputs.at("warn"), "err-" + a);
    EXPECT_EQ(ctx_.Lines(h.host, false), std::vector<std::string>{"out-" + a});
    EXPECT_EQ(ctx_.Lines(h.host, true), std::vector<std::string>{"err-" + a});
  }
  EXPECT_NE(r.stdout_text.find(sshd_->specs[1] + ": out-127.0.0.2\n"), std::string::npos);
  std::vector<nlohmann::json> records = ctx_.HostRecords();
  ASSERT_EQ(records.size(), 3u);
  for (const nlohmann::json& rec : records) {
    for (const char* key : {"host", "exit_status", "duration_ms", "stdout_tail", "stderr_tail",
                            "error"}) {
      EXPECT_TRUE(rec.contains(key)) << key << " missing in " << rec.dump();
    }
    EXPECT_EQ(rec["exit_status"], 0);
  }
}

TEST_F(SshRunnerTest, RendersTheCommandForEachHost) {
  StepResult r = Run(Step("echo {{ host }}"));
  ASSERT_TRUE(r.ok()) << r.error;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.hosts[i].stdout_text, sshd_->specs[i] + "\n");
}

TEST_F(SshRunnerTest, OneFailingHostFailsTheStepAndIsNamed) {
  StepResult r = Run(Step("test " + kAddr + " != 127.0.0.2 || exit 7"));
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_EQ(r.error, "1 of 3 hosts failed: " + sshd_->specs[1] + " (exit status 7)");
  EXPECT_EQ(r.exit_status, 7);
  ASSERT_EQ(r.hosts.size(), 3u);
  EXPECT_TRUE(r.hosts[0].ok);
  EXPECT_FALSE(r.hosts[1].ok);
  EXPECT_TRUE(r.hosts[1].reached);
  EXPECT_EQ(r.hosts[1].exit_status, 7);
  bool recorded = false;
  for (const nlohmann::json& rec : ctx_.HostRecords()) {
    if (rec["host"] == sshd_->specs[1]) recorded = rec["exit_status"] == 7 && rec["error"] == "exit status 7";
  }
  EXPECT_TRUE(recorded);
  // The console's count (cli/step_status.h): none done at first, then one more per host.
  ASSERT_EQ(ctx_.hosts_done.size(), 4u);
  EXPECT_EQ(ctx_.hosts_done.front().done, 0);
  EXPECT_EQ(ctx_.hosts_done.front().total, 3);
  EXPECT_EQ(ctx_.hosts_done.back().done, 3);
  EXPECT_EQ(ctx_.hosts_done.back().total, 3);
  EXPECT_EQ(ctx_.hosts_done.back().failed, 1);
}

TEST_F(SshRunnerTest, ExitBySignalIsReported) {
  StepResult r = Run(Step("kill -TERM $$", 1));
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("killed by signal TERM"), std::string::npos) << r.error;
}

TEST_F(SshRunnerTest, LargeOutputIsStreamedWholeAndKeptBounded) {
  StepResult r = Run(Step("seq 1 200000; seq 1 100000 >&2", 1));
  ASSERT_TRUE(r.ok()) << r.error;
  const HostResult& h = r.hosts[0];
  EXPECT_LE(h.stdout_text.size(), kSshTailBytes);
  EXPECT_GT(h.stdout_text.size(), kSshTailBytes - 16);
  EXPECT_EQ(h.stdout_text.substr(h.stdout_text.size() - 14), "199999\n200000\n");
  std::vector<std::string> out = ctx_.Lines(h.host, false), err = ctx_.Lines(h.host, true);
  ASSERT_EQ(out.size(), 200000u);
  ASSERT_EQ(err.size(), 100000u);
  EXPECT_EQ(out.front(), "1");
  EXPECT_EQ(out.back(), "200000");
  EXPECT_EQ(err.front(), "1");
  EXPECT_EQ(err.back(), "100000");
  EXPECT_LE(ctx_.HostRecords()[0]["stdout_tail"].get<std::string>().size(), 2048u);
}

// ---------------------------------------------------------------- max_fail and batches

TEST_F(SshRunnerTest, MaxFailAsCountOrPercent) {
  const std::string bad = "test " + kAddr + " != 127.0.0.2 || exit 7";
  StepSpec step = Step(bad);
  Action(step).max_fail = {1, false};
  StepResult r = Run(step);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_NE(r.detail.value("tolerated_failures", "").find("exit status 7"), std::string::npos);

  Action(step).max_fail = {34, true};  // 34% of 3 hosts: 1
  EXPECT_TRUE(Run(step).ok());
  Action(step).max_fail = {33, true};  // 33% of 3 hosts: 0
  EXPECT_EQ(Run(step).outcome, StepResult::Outcome::kFailed);
  EXPECT_EQ(FailBudget({50, true}).Allowed(4), 2);
}

TEST_F(SshRunnerTest, BatchOfOneRunsHostsOneAtATimeInOrder) {
  // Each host takes a lock (mkdir fails if another host holds it) and logs its start and end.
  // The sleep only gives an overlapping runner time to collide; a correct one passes however
  // slow the logins are.
  const std::string lock = work_ / "mutex", log = work_ / "log";
  StepSpec step = Step("echo start-" + kAddr + " >> " + log + " && mkdir " + lock +
                       " && sleep 0.2 && rmdir " + lock + " && echo end-" + kAddr + " >> " + log);
  Action(step).batch = 1;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["max_in_flight"], 1);
  EXPECT_EQ(ReadFile(log),
            "start-127.0.0.1\nend-127.0.0.1\nstart-127.0.0.2\nend-127.0.0.2\n"
            "start-127.0.0.3\nend-127.0.0.3\n");
  std::vector<nlohmann::json> records = ctx_.HostRecords();
  ASSERT_EQ(records.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(records[i]["host"], sshd_->specs[i]);
}

TEST_F(SshRunnerTest, UnlimitedBatchRunsEveryHostAtOnce) {
  // A barrier: each host marks that it started, then waits (up to 20 s) until all three have.
  // Only hosts that run at the same time all get through, whatever the load.
  StepSpec step = Step(StartedBarrier(3));
  Action(step).batch = 0;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["max_in_flight"], 3);
  for (const HostResult& h : r.hosts) EXPECT_EQ(h.stdout_text, "all 3 started\n") << h.host;
}

TEST_F(SshRunnerTest, BatchesRollAsSoonAsAHostFinishes) {
  // Host 1 waits (up to 20 s) until host 4 has run, and fails if it never does; with a rolling
  // window of 2, hosts 3 and 4 go through host 2's slot meanwhile. Batch by batch, host 4
  // could not start before host 1 finished, so host 1 would fail. No fixed sleep and no
  // assumption about which of two hosts that end together is recorded first, so a loaded
  // machine cannot make it flaky.
  const std::string done = work_ / "done-127.0.0.4";
  StepSpec step = Step("if [ " + kAddr + " = 127.0.0.1 ]; then for i in $(seq 400); do [ -f " +
                           done + " ] && exit 0; sleep 0.05; done; exit 1; else touch " +
                           work_.path() + "/done-" + kAddr + "; fi",
                       4);
  Action(step).batch = 2;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  std::vector<nlohmann::json> records = ctx_.HostRecords();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_NE(records.front()["host"], sshd_->specs[0]) << "host 1 cannot finish first";
  EXPECT_EQ(r.detail["max_in_flight"], 2);
}

TEST_F(SshRunnerTest, LaterBatchesDoNotStartOnceTheBudgetIsSpent) {
  StepSpec step = Step("touch " + work_ / "ran-" + kAddr + "; test " + kAddr +
                       " != 127.0.0.1 || exit 3");
  Action(step).batch = 1;
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.detail["not_started"], 2);
  EXPECT_NE(r.error.find("2 host(s) not started (max_fail 0 exceeded)"), std::string::npos)
      << r.error;
  EXPECT_TRUE(Exists("ran-127.0.0.1"));
  EXPECT_FALSE(Exists("ran-127.0.0.2"));
  EXPECT_FALSE(Exists("ran-127.0.0.3"));
}

// ---------------------------------------------------------------- host keys

TEST_F(SshRunnerTest, WrongHostKeyFailsBeforeTheCommandRuns) {
  StepSpec step = Step("touch " + work_ / "ran");
  Action(step).resolved.known_hosts = sshd_->path("wrong_known_hosts");
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("3 of 3 hosts failed"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("host key mismatch"), std::string::npos) << r.error;
  for (const HostResult& h : r.hosts) EXPECT_FALSE(h.reached);
  EXPECT_FALSE(Exists("ran"));
}

TEST_F(SshRunnerTest, UnknownHostKeyFailsUnderStrictChecking) {
  StepSpec step = Step("touch " + work_ / "ran");
  Action(step).resolved.known_hosts = CopyKnownHosts("empty_known_hosts");
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("unknown host key"), std::string::npos) << r.error;
  EXPECT_FALSE(Exists("ran"));
  EXPECT_EQ(ReadFile(Action(step).resolved.known_hosts), "");
}

TEST_F(SshRunnerTest, AcceptNewRecordsNewKeysThenStrictPasses) {
  StepSpec step = Step("touch " + work_ / "ran-" + kAddr);
  std::string known = CopyKnownHosts("empty_known_hosts");
  Action(step).resolved.known_hosts = known;
  Action(step).resolved.host_key_checking = HostKeyChecking::kAcceptNew;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(Exists("ran-127.0.0.3"));
  std::string text = ReadFile(known);
  for (const char* a : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    EXPECT_NE(text.find("[" + std::string(a) + "]:" + std::to_string(sshd_->port) + " " +
                        sshd_->host_key + "\n"),
              std::string::npos)
        << text;
  }
  Action(step).resolved.host_key_checking = HostKeyChecking::kStrict;
  EXPECT_TRUE(Run(step).ok());
  EXPECT_EQ(ReadFile(known), text);  // nothing added twice
}

TEST_F(SshRunnerTest, AcceptNewStillRefusesAChangedKey) {
  StepSpec step = Step("touch " + work_ / "ran");
  std::string known = CopyKnownHosts("wrong_known_hosts");
  Action(step).resolved.known_hosts = known;
  Action(step).resolved.host_key_checking = HostKeyChecking::kAcceptNew;
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("host key mismatch"), std::string::npos) << r.error;
  EXPECT_FALSE(Exists("ran"));
  EXPECT_EQ(ReadFile(known), ReadFile(sshd_->path("wrong_known_hosts")));
}

TEST_F(SshRunnerTest, HashedKnownHostsAreUnderstood) {
  std::string known = CopyKnownHosts("known_hosts");
  ShOutput("ssh-keygen -q -H -f " + known + " >/dev/null 2>&1");
  ASSERT_EQ(ReadFile(known).find("127.0.0"), std::string::npos);
  StepSpec step = Step("true");
  Action(step).resolved.known_hosts = known;
  StepResult r = Run(step);
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST_F(SshRunnerTest, DefaultKnownHostsIsUnderHome) {
  TempDir home;
  const char* old = getenv("HOME");
  std::string saved = old != nullptr ? old : "";
  setenv("HOME", home.path().c_str(), 1);
  StepSpec step = Step("true", 1);
  Action(step).resolved.known_hosts = "";
  Action(step).resolved.host_key_checking = HostKeyChecking::kAcceptNew;
  StepResult r = Run(step);
  setenv("HOME", saved.c_str(), 1);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NE(ReadFile(home / ".ssh/known_hosts").find(sshd_->host_key), std::string::npos);
}

// ---------------------------------------------------------------- unreachable and refused

TEST_F(SshRunnerTest, RefusedConnectionIsReportedAtOnce) {
  StepSpec step = Step("true", 1);
  Action(step).resolved.hosts = {"127.0.0.1:" + std::to_string(FreeLoopbackPort())};
  auto t0 = Clock::now();
  StepResult r = Run(step);
  EXPECT_LT(Seconds(t0), 2.0);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
  EXPECT_FALSE(r.hosts[0].reached);
}

TEST_F(SshRunnerTest, HostThatNeverSpeaksSshTimesOut) {
  // The kernel completes the TCP handshake from the backlog; nobody ever answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  StepSpec step = Step("true", 1);
  Action(step).resolved.hosts = {sshd_->specs[1], "127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  Action(step).resolved.connect_timeout = Duration(500);
  auto t0 = Clock::now();
  StepResult r = Run(step);
  double took = Seconds(t0);
  close(fd);
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_TRUE(r.hosts[0].ok) << r.hosts[0].error;
  EXPECT_EQ(r.hosts[1].error, "timeout: no SSH handshake within 500ms");
  EXPECT_EQ(r.error, "1 of 2 hosts failed: " + Action(step).resolved.hosts[1] +
                         " (timeout: no SSH handshake within 500ms)");
}

TEST_F(SshRunnerTest, BadHostSpecFailsWithoutConnecting) {
  StepSpec step = Step("true", 1);
  Action(step).resolved.hosts = {"web1:99999"};
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("port '99999'"), std::string::npos) << r.error;
}

// ---------------------------------------------------------------- authentication

TEST_F(SshRunnerTest, WrongIdentityIsRefused) {
  StepSpec step = Step("true", 1);
  Action(step).resolved.identity_file = sshd_->path("other");
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("auth refused"), std::string::npos) << r.error;
  EXPECT_FALSE(r.hosts[0].reached);

  Action(step).resolved.identity_file = sshd_->path("no-such-key");
  r = Run(step);
  EXPECT_NE(r.error.find("cannot read identity file"), std::string::npos) << r.error;
}

TEST_F(SshRunnerTest, RsaKeyWithPassphraseFromASecret) {
  StepSpec step = Step("echo rsa-ok", 1);
  Action(step).resolved.identity_file = sshd_->path("rsa");
  Action(step).resolved.passphrase_secret = "keypass";
  ctx_.secret_values["keypass"] = sshd_->rsa_passphrase;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.hosts[0].stdout_text, "rsa-ok\n");

  ctx_.secret_values["keypass"] = "wrong";
  r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("cannot use identity file"), std::string::npos) << r.error;
}

TEST_F(SshRunnerTest, RefusedRsaKeyExplainsTheSha1Limit) {
  TestSshd strict(1, /*allow_ssh_rsa=*/false);
  ASSERT_TRUE(strict.ok()) << strict.error();
  StepSpec step = Step("true", 1);
  Action(step).resolved.hosts = strict.specs;
  Action(step).resolved.known_hosts = strict.path("known_hosts");
  Action(step).resolved.identity_file = strict.path("rsa");
  Action(step).resolved.passphrase_secret = "keypass";
  ctx_.secret_values["keypass"] = strict.rsa_passphrase;
  StepResult r = Run(step);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("auth refused"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ssh-rsa/SHA-1"), std::string::npos) << r.error;
}

TEST_F(SshRunnerTest, SshAgentIsUsedWhenNoIdentityFileIsGiven) {
  const std::string sock = work_ / "agent.sock";
  pid_t agent = fork();
  if (agent == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execlp("ssh-agent", "ssh-agent", "-D", "-a", sock.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(WaitUntil([&] { return access(sock.c_str(), F_OK) == 0; }, 5));
  int status = 0;
  ShOutput("SSH_AUTH_SOCK=" + sock + " ssh-add " + sshd_->path("client") + " 2>&1", &status);
  ASSERT_EQ(status, 0);
  const char* old = getenv("SSH_AUTH_SOCK");
  std::string saved = old != nullptr ? old : "";
  setenv("SSH_AUTH_SOCK", sock.c_str(), 1);
  StepSpec step = Step("echo agent-ok", 2);
  Action(step).resolved.identity_file = "";
  StepResult with_agent = Run(step);
  unsetenv("SSH_AUTH_SOCK");
  StepResult without_agent = Run(step);
  if (!saved.empty()) setenv("SSH_AUTH_SOCK", saved.c_str(), 1);
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);

  ASSERT_TRUE(with_agent.ok()) << with_agent.error;
  EXPECT_EQ(with_agent.hosts[1].stdout_text, "agent-ok\n");
  EXPECT_EQ(without_agent.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(without_agent.error.find("no ssh-agent"), std::string::npos) << without_agent.error;
}

// ---------------------------------------------------------------- timeout and interruption

TEST_F(SshRunnerTest, StepTimeoutEndsTheRemoteCommand) {
  // The step's timeout also covers the logins, so it must outlast them on a loaded machine:
  // the markers show the command was running when the timeout ended it.
  StepSpec step =
      Step("touch " + work_ / "started-" + kAddr + "; sleep 37.25; touch " + work_ / "late", 2);
  step.timeout = Duration(3000);
  auto t0 = Clock::now();
  StepResult r = Run(step);
  EXPECT_LT(Seconds(t0), 6.0);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kTimedOut);
  EXPECT_NE(r.error.find("timed out after 3s"), std::string::npos) << r.error;
  EXPECT_TRUE(HostsStarted(2)) << "the logins took longer than the step's timeout";
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_TRUE(r.hosts[0].reached);
  EXPECT_NE(r.hosts[0].error.find("timeout"), std::string::npos) << r.hosts[0].error;
  EXPECT_TRUE(WaitUntil([] { return !ProcessWithArgvRuns({"sleep", "37.25"}); }, 3))
      << "the remote command survived the step timeout";
  EXPECT_FALSE(Exists("late"));
}

TEST_F(SshRunnerTest, InterruptionClosesEveryChannelPromptly) {
  // Interrupted once the command runs on every host (their markers), not after a fixed sleep
  // that slow logins could outlast; promptness is measured from the interruption.
  StepSpec step = Step("touch " + work_ / "started-" + kAddr + "; sleep 38.25", 3);
  bool all_started = false;
  Clock::time_point interrupted_at;
  std::thread interrupter([&] {
    all_started = WaitUntil([&] { return HostsStarted(3); }, 30);
    interrupted_at = Clock::now();
    ctx_.cancel.Cancel();
  });
  StepResult r = Run(step);
  interrupter.join();
  ASSERT_TRUE(all_started) << "the command did not start on every host: " << r.error;
  EXPECT_LT(Seconds(interrupted_at), 3.0);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kCancelled);
  ASSERT_EQ(r.hosts.size(), 3u);
  for (const HostResult& h : r.hosts) {
    EXPECT_TRUE(h.reached);
    EXPECT_FALSE(h.ok);
    EXPECT_NE(h.error.find("interrupted"), std::string::npos) << h.error;
  }
  EXPECT_TRUE(WaitUntil([] { return !ProcessWithArgvRuns({"sleep", "38.25"}); }, 3))
      << "a remote command survived the interruption";
}

TEST_F(SshRunnerTest, KeepaliveDoesNotDisturbALongCommand) {
  StepSpec step = Step("sleep 1.3; echo done", 1);
  Action(step).resolved.keepalive = Duration(1000);
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.hosts[0].stdout_text, "done\n");
}

// ---------------------------------------------------------------- rollback, dry run, fleets

TEST_F(SshRunnerTest, RollbackRunsOnlyWhereTheStepReached) {
  StepSpec forward = Step("true");
  StepResult done;
  done.outcome = StepResult::Outcome::kFailed;
  for (int i = 0; i < 3; ++i) {
    HostResult h;
    h.host = sshd_->specs[i];
    h.reached = i < 2;  // host 3 was never reached
    h.ok = i == 0;      // host 2 was reached and failed: it is rolled back too
    done.hosts.push_back(h);
  }
  StepSpec undo = Step("touch " + work_ / "undo-" + kAddr);
  undo.phase = Phase::kRollback;
  StepRequest request;
  request.phase = Phase::kRollback;
  request.undoing = &forward;
  request.undoing_result = &done;
  StepResult r = Run(undo, request);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_TRUE(Exists("undo-127.0.0.1"));
  EXPECT_TRUE(Exists("undo-127.0.0.2"));
  EXPECT_FALSE(Exists("undo-127.0.0.3"));

  for (HostResult& h : done.hosts) h.reached = false;
  r = Run(undo, request);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.hosts.empty());
}

// A failed host's outputs are kept (what it printed up to the failure), in the result and in
// its host_finished record, which is durable as soon as the host is done: a rollback there
// sees them, also after a crash.
TEST_F(SshRunnerTest, AFailedHostKeepsItsOutputsAndRecordsThemWhenDone) {
  StepSpec step = Step("echo was-" + kAddr + "; test " + kAddr + " != 127.0.0.2");
  step.outputs = {{"prev", "stdout"}};
  Action(step).max_fail.value = 1;
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.hosts.size(), 3u);
  EXPECT_FALSE(r.hosts[1].ok);
  EXPECT_EQ(r.hosts[1].outputs.at("prev"), "was-127.0.0.2");
  for (const nlohmann::json& rec : ctx_.HostRecords()) {
    const std::string addr = rec["host"].get<std::string>().substr(0, 9);
    EXPECT_EQ(rec["outputs"]["prev"], "was-" + addr) << rec.dump();
    EXPECT_EQ(rec["ok"], addr != "127.0.0.2") << rec.dump();
  }
}

// The executor leaves out hosts that failed in an earlier step: they are not contacted.
TEST_F(SshRunnerTest, SkippedHostsAreNotContacted) {
  StepSpec step = Step("touch " + work_ / "ran-" + kAddr);
  StepRequest request;
  request.skip_hosts = {sshd_->specs[1]};
  StepResult r = Run(step, request);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_TRUE(Exists("ran-127.0.0.1"));
  EXPECT_FALSE(Exists("ran-127.0.0.2"));
  EXPECT_TRUE(Exists("ran-127.0.0.3"));
  EXPECT_EQ(r.detail["skipped_hosts"], nlohmann::json({sshd_->specs[1]}));

  request.skip_hosts = Hosts(3);
  r = Run(step, request);
  EXPECT_TRUE(r.ok()) << "nothing left to run on is not a failure: " << r.error;
  EXPECT_TRUE(r.hosts.empty());
}

TEST_F(SshRunnerTest, RollbackOfAShellStepRunsOnEveryHost) {
  StepSpec forward;
  forward.id = "local";
  forward.action = ShellAction{"true", "", {}};
  StepResult done;  // a shell step has no hosts
  done.outcome = StepResult::Outcome::kSucceeded;
  StepSpec undo = Step("touch " + work_ / "undo-" + kAddr);
  StepRequest request;
  request.phase = Phase::kRollback;
  request.undoing = &forward;
  request.undoing_result = &done;
  StepResult r = Run(undo, request);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.hosts.size(), 3u);
  EXPECT_TRUE(Exists("undo-127.0.0.3"));
}

TEST_F(SshRunnerTest, LoginNoiseBeforeTheMarkerIsKeptAndTheCommandCanStillBeKilled) {
  // A server whose login writes to stderr before running the command (as a noisy .bashrc
  // would); `eval` keeps the command in the same shell, as a login script does. Interrupted
  // once both lines have arrived and the command's sleep runs, however long the login took.
  TestSshd noisy(1, true, "ForceCommand echo login-noise >&2; eval \"$SSH_ORIGINAL_COMMAND\"\n");
  ASSERT_TRUE(noisy.ok()) << noisy.error();
  StepSpec step = Step("echo own >&2; sleep 39.25", 1);
  Action(step).resolved.hosts = noisy.specs;
  Action(step).resolved.known_hosts = noisy.path("known_hosts");
  Action(step).resolved.identity_file = noisy.path("client");
  bool running = false;
  std::thread interrupter([&] {
    running = WaitUntil(
        [&] { return ctx_.lines_seen >= 2 && ProcessWithArgvRuns({"sleep", "39.25"}); }, 30);
    ctx_.cancel.Cancel();
  });
  StepResult r = Run(step);
  interrupter.join();
  ASSERT_TRUE(running) << "the command did not start: " << r.error;
  EXPECT_EQ(r.outcome, StepResult::Outcome::kCancelled);
  EXPECT_EQ(r.hosts[0].stderr_text, "login-noise\nown\n");
  EXPECT_TRUE(WaitUntil([] { return !ProcessWithArgvRuns({"sleep", "39.25"}); }, 3))
      << "the command could not be killed: its process group was not found";
}

TEST_F(SshRunnerTest, AutoRollbackIsRefused) {
  StepSpec step = Step("true", 1);
  StepRequest request;
  request.auto_rollback = true;
  StepResult r = Run(step, request);
  EXPECT_EQ(r.outcome, StepResult::Outcome::kFailed);
  EXPECT_NE(r.error.find("no automatic rollback"), std::string::npos);
}

TEST_F(SshRunnerTest, DryRunRendersAndConnectsNowhere) {
  StepSpec step = Step("touch " + work_ / "dry-{{ host }}");
  StepRequest request;
  request.dry_run = true;
  StepResult r = Run(step, request);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.hosts.empty());
  ASSERT_EQ(r.detail["hosts"].size(), 3u);
  EXPECT_EQ(r.detail["hosts"][1]["command"], "touch " + work_ / "dry-" + sshd_->specs[1]);
  EXPECT_FALSE(Exists("dry-" + sshd_->specs[1]));
}

TEST_F(SshRunnerTest, AFleetRunsFromOneThread) {
  const int before = ThreadCount();
  ctx_.count_threads = true;
  StepResult r = Run(Step("echo hi", 12));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.hosts.size(), 12u);
  EXPECT_EQ(r.detail["max_in_flight"], 12);
  EXPECT_EQ(ctx_.max_threads, before) << "the fan-out started threads";
  // Each host's stdout line arrives once. (Under load the hosts' login shells may also print
  // to stderr, which is not what this test is about.)
  size_t his = 0;
  for (const auto& line : ctx_.lines) his += !line.is_stderr && line.text == "hi";
  EXPECT_EQ(his, 12u);
}

// ---------------------------------------------------------------- host specs

TEST(SshAddressTest, ParsesNamesPortsAndIpv6) {
  Result<SshAddress> a = ParseSshAddress("web1", 22);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "web1");
  EXPECT_EQ(a->port, 22);
  a = ParseSshAddress("web2:2222", 22);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "web2");
  EXPECT_EQ(a->port, 2222);
  a = ParseSshAddress("[::1]:2200", 22);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 2200);
  a = ParseSshAddress("fe80::1", 2022);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "fe80::1");
  EXPECT_EQ(a->port, 2022);
  EXPECT_FALSE(ParseSshAddress("web:0", 22).ok());
  EXPECT_FALSE(ParseSshAddress("web:x", 22).ok());
  EXPECT_FALSE(ParseSshAddress("web:", 22).ok());
  EXPECT_FALSE(ParseSshAddress("[::1", 22).ok());
  EXPECT_FALSE(ParseSshAddress(":22", 22).ok());
}

}  // namespace
}  // namespace runbook
