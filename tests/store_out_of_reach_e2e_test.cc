// A run on the shared PostgreSQL store whose server goes out of reach in the middle of a step
// (docs/team.md "When the database is out of reach"): the run starts nothing more, rolls back
// what it did, keeps the records the server did not take in its journal on this machine and
// ends with exit 3; the next command that reaches the server writes them, and nothing is lost.
// The partition is real: the binary talks to a real server through a loopback proxy that the
// test cuts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e_util.h"
#include "testing/postgres_fixture.h"
#include "testing/tcp_proxy.h"
#include "testing/temp_dir.h"

namespace runbook::testing {
namespace {

namespace fs = std::filesystem;

class StoreOutOfReachE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &PostgresServer::Shared();
    ASSERT_TRUE(server_->ok()) << "cannot start a PostgreSQL server: " << server_->error();
    const std::string url = server_->NewDatabase();
    ASSERT_FALSE(url.empty()) << server_->error();
    proxy_ = std::make_unique<TcpProxy>(server_->port());
    ASSERT_TRUE(proxy_->ok());
    // The password file names the server's own port: through the proxy the URL carries it
    // (and the tool never shows it).
    proxied_url_ = "postgresql://" + server_->role() + ":" + server_->password() +
                   "@127.0.0.1:" + std::to_string(proxy_->port()) + url.substr(url.rfind('/'));
    dir_ = fs::path(tmp_.path());
    // The journal goes under the state folder: this test's own.
    setenv("XDG_STATE_HOME", (dir_ / "state").c_str(), 1);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  Output Runbook(const std::string& args) { return RunRunbook(dir_, proxied_url_, args); }

  PostgresServer* server_ = nullptr;
  std::unique_ptr<TcpProxy> proxy_;
  std::string proxied_url_;
  TempDir tmp_{"runbook-out-of-reach"};
  fs::path dir_;
};

TEST_F(StoreOutOfReachE2eTest, TheRunStopsRollsBackAndItsRecordsReachTheStoreLater) {
  Write("release.yaml",
        "runbook: release\nlock: prod-web\nsteps:\n"
        "  - id: a\n    shell: \"echo do-a >> log\"\n"
        "    rollback: {shell: \"echo undo-a >> log\"}\n"
        "  - id: b\n    shell: \"echo do-b >> log; sleep 2\"\n"
        "    rollback: {shell: \"echo undo-b >> log\"}\n"
        "  - id: c\n    shell: \"echo do-c >> log\"\n"
        "    rollback: {shell: \"echo undo-c >> log\"}\n");
  Output run;
  std::thread runner([&] { run = Runbook("run release.yaml --json"); });
  // Cut the link while step b runs.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Read("log").find("do-b") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  proxy_->Cut();
  runner.join();

  EXPECT_EQ(Read("log"), "do-a\ndo-b\nundo-b\nundo-a\n") << run.text;
  EXPECT_EQ(run.code, 3) << run.text;
  EXPECT_NE(run.text.find("interrupted: the shared audit store could not be written"), std::string::npos)
      << run.text;
  EXPECT_NE(run.text.find("\"audit_journal\""), std::string::npos) << run.text;
  EXPECT_EQ(run.text.find(server_->password()), std::string::npos) << "password shown";

  // The link is back: the next command writes what waited, and the record is whole.
  proxy_->Mend();
  Output verify = Runbook("audit verify");
  EXPECT_EQ(verify.code, 0) << verify.text;
  Output runs = Runbook("runs --json");
  EXPECT_EQ(runs.code, 0) << runs.text;
  EXPECT_NE(runs.text.find("\"rolled_back\""), std::string::npos) << runs.text;
  Output exported = Runbook("audit export");
  for (const char* event : {"rollback_succeeded", "run_finished"})
    EXPECT_NE(exported.text.find(event), std::string::npos) << event << "\n" << exported.text;
  // Its lock was released with its last records: the next run takes it.
  Write("release.yaml",
        "runbook: release\nlock: prod-web\nsteps:\n  - id: a\n    shell: \"echo again >> log\"\n");
  Output again = Runbook("run release.yaml");
  EXPECT_EQ(again.code, 0) << again.text;
}

}  // namespace
}  // namespace runbook::testing
