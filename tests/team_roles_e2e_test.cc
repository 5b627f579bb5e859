// The team store of docs/team.md through the built `runbook` binary: a real PostgreSQL server
// set up with scripts/pg-team-roles.sql, an operator's login that runs a runbook, and an
// auditor's login whose `audit verify` and `runs` read the log and whose `run` is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing/postgres_fixture.h"
#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;

using runbook::testing::Output;
using runbook::testing::PostgresServer;

TEST(TeamRolesE2eTest, AnOperatorRunsAndAnAuditorVerifies) {
  PostgresServer& server = PostgresServer::Shared();
  ASSERT_TRUE(server.ok()) << "cannot start a PostgreSQL server: " << server.error();
  const fs::path dir = fs::temp_directory_path() / ("runbook-team-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto url = [&](const std::string& role) {
    return "postgresql://" + role + "@127.0.0.1:" + std::to_string(server.port()) + "/team";
  };
  const std::vector<std::string> roles_file = {
      "-q",
      "-d",
      "postgres",
      "-f",
      std::string(RUNBOOK_SOURCE_DIR) + "/scripts/pg-team-roles.sql",
      "-v",
      "dbname=team"};
  std::string out;

  // docs/team.md, "Setting up the store": the file, the owner's first open, the file again.
  ASSERT_EQ(server.Psql(roles_file, &out), 0) << out;
  ASSERT_EQ(server.SetPassword("runbook_owner"), "");
  Output created = runbook::testing::RunRunbook(dir, url("runbook_owner"), "audit verify");
  ASSERT_EQ(created.code, 0) << created.text;
  ASSERT_EQ(server.Psql(roles_file, &out), 0) << out;
  for (const auto& [login, group] :
       {std::pair{"ann", "runbook_operator"}, std::pair{"bo", "runbook_auditor"}}) {
    ASSERT_EQ(
        server.Sql("postgres", std::string("CREATE ROLE ") + login + " LOGIN IN ROLE " + group),
        "");
    ASSERT_EQ(server.SetPassword(login), "");
  }

  std::ofstream(dir / "ok.yaml") << "runbook: ok\nsteps:\n  - id: a\n    shell: \"true\"\n";
  Output run = runbook::testing::RunRunbook(dir, url("ann"), "run ok.yaml");
  ASSERT_EQ(run.code, 0) << run.text;
  Output op_verify = runbook::testing::RunRunbook(dir, url("ann"), "audit verify");
  ASSERT_EQ(op_verify.code, 0) << op_verify.text;

  // "audit log URL: N events, hash chain intact (head: ...)": the same log and head, whoever
  // reads it.
  auto after_url = [](const std::string& text) { return text.substr(text.find(": ") + 2); };
  Output verify = runbook::testing::RunRunbook(dir, url("bo"), "audit verify");
  EXPECT_EQ(verify.code, 0) << verify.text;
  EXPECT_NE(verify.text.find("hash chain intact"), std::string::npos) << verify.text;
  EXPECT_EQ(after_url(verify.text), after_url(op_verify.text));
  Output runs = runbook::testing::RunRunbook(dir, url("bo"), "runs");
  EXPECT_EQ(runs.code, 0) << runs.text;
  EXPECT_NE(runs.text.find("ok"), std::string::npos) << runs.text;

  Output refused = runbook::testing::RunRunbook(dir, url("bo"), "run ok.yaml");
  EXPECT_EQ(refused.code, 4) << refused.text;  // refused: nothing ran
  EXPECT_NE(refused.text.find("permission denied"), std::string::npos) << refused.text;
  EXPECT_EQ(after_url(runbook::testing::RunRunbook(dir, url("bo"), "audit verify").text),
            after_url(op_verify.text));
  fs::remove_all(dir);
}

}  // namespace
