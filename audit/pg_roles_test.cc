// The roles file a DBA runs for a team's shared store (scripts/pg-team-roles.sql; docs/team.md),
// run with psql against a real server: the owner's first open creates the store; a login in the
// operator group can do all that run, recover, plan and approve do, and cannot rewrite history;
// a login in the auditor group reads and verifies, and writes nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include "audit/pg_append_only.h"
#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::RealRun;
using audit_test::RecordRun;
using runbook::testing::PostgresServer;

// The file's default role names. Roles belong to the whole server, which the tests of this
// process share: each test makes its own database, and the file leaves existing roles alone.
constexpr const char* kOwner = "runbook_owner";
constexpr const char* kOperatorLogin = "ann";  // a member of runbook_operator
constexpr const char* kAuditorLogin = "bo";    // a member of runbook_auditor

PlanRecord MakePlan(const std::string& id) {
  PlanRecord p;
  p.plan_id = id;
  p.hash = std::string(64, 'c');
  p.runbook = "web-release";
  p.runbook_text = "runbook: web-release\n";
  p.requested_by = "ann";
  return p;
}

class PgRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &PostgresServer::Shared();
    ASSERT_TRUE(server_->ok()) << "cannot start a PostgreSQL server: " << server_->error();
    static int databases = 0;
    dbname_ = "team" + std::to_string(++databases);
  }

  // Runs the roles file for this test's database; its exit status, what it printed in out_.
  int RunRolesFile() {
    return server_->Psql(
        {"-q", "-d", "postgres", "-f",
         std::string(RUNBOOK_SOURCE_DIR) + "/scripts/pg-team-roles.sql", "-v", "dbname=" + dbname_},
        &out_);
  }

  std::string Url(const std::string& role) const {
    return "postgresql://" + role + "@127.0.0.1:" + std::to_string(server_->port()) + "/" + dbname_;
  }

  // A login role of `group` with a password in the password file (made once per server).
  void MakeLogin(const std::string& role, const std::string& group) {
    if (server_->Value("postgres", "SELECT 1 FROM pg_roles WHERE rolname = '" + role + "'") !=
        "1") {
      ASSERT_EQ(server_->Sql("postgres", "CREATE ROLE " + role + " LOGIN IN ROLE " + group), "");
      ASSERT_EQ(server_->SetPassword(role), "");
    }
  }

  // The whole setup of docs/team.md: the file, the owner's first open, the file again, and a
  // login for an operator and one for an auditor.
  void SetUpTeamStore() {
    ASSERT_EQ(RunRolesFile(), 0) << out_;
    ASSERT_EQ(server_->SetPassword(kOwner), "");
    owner_ = audit_test::OpenPgOrDie(Url(kOwner));
    ASSERT_TRUE(owner_);
    ASSERT_EQ(RunRolesFile(), 0) << out_;
    MakeLogin(kOperatorLogin, "runbook_operator");
    MakeLogin(kAuditorLogin, "runbook_auditor");
  }

  // `sql` run on this test's database as `role`: what a person with psql and that login could
  // do outside runbook.
  Status As(const std::string& role, const std::string& sql) {
    Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(Url(role));
    if (!conn.ok()) return conn.status();
    return (*conn)->ExecScript(sql);
  }

  PostgresServer* server_ = nullptr;
  std::string dbname_;
  std::string out_;
  std::unique_ptr<PgAuditDatabase> owner_;
};

TEST_F(PgRolesTest, TheFileMakesTheRolesThenGrantsOnceTheOwnerHasMadeTheTables) {
  ASSERT_EQ(RunRolesFile(), 0) << out_;
  EXPECT_NE(out_.find("open the store once as runbook_owner"), std::string::npos) << out_;
  EXPECT_EQ(server_->Value(dbname_, "SELECT datdba::regrole FROM pg_database WHERE datname = '" +
                                        dbname_ + "'"),
            kOwner);
  MakeLogin(kOperatorLogin, "runbook_operator");
  // Only the owner may create the tables.
  Result<std::unique_ptr<PgAuditDatabase>> early = PgAuditDatabase::Open(Url(kOperatorLogin));
  EXPECT_EQ(early.status().kind(), StatusKind::kRefused) << early.message();

  ASSERT_EQ(server_->SetPassword(kOwner), "");
  ASSERT_TRUE(audit_test::OpenPgOrDie(Url(kOwner)));
  EXPECT_EQ(server_->Value(dbname_,
                           "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables "
                           "WHERE schemaname = 'public'"),
            kOwner);
  // Tables, but no grants on them yet.
  Result<std::unique_ptr<PgAuditDatabase>> ungranted = PgAuditDatabase::Open(Url(kOperatorLogin));
  EXPECT_EQ(ungranted.status().kind(), StatusKind::kRefused) << ungranted.message();
  EXPECT_NE(ungranted.message().find("permission denied"), std::string::npos)
      << ungranted.message();

  ASSERT_EQ(RunRolesFile(), 0) << out_;
  EXPECT_NE(out_.find("granted on the tables of " + dbname_), std::string::npos) << out_;
  ASSERT_EQ(RunRolesFile(), 0) << out_;  // again: the same grants, nothing more
  EXPECT_TRUE(audit_test::OpenPgOrDie(Url(kOperatorLogin)));

  // Logins outside the groups do not even connect.
  if (server_->Value("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'stranger'") != "1") {
    ASSERT_EQ(server_->Sql("postgres", "CREATE ROLE stranger LOGIN"), "");
    ASSERT_EQ(server_->SetPassword("stranger"), "");
  }
  Result<std::unique_ptr<PgAuditDatabase>> stranger = PgAuditDatabase::Open(Url("stranger"));
  EXPECT_FALSE(stranger.ok());
  EXPECT_NE(stranger.message().find("permission denied for database"), std::string::npos)
      << stranger.message();
}

// Everything run, recover, plan and approve do to the store, as an operator.
TEST_F(PgRolesTest, AnOperatorRunsRecoversPlansAndApproves) {
  SetUpTeamStore();
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<PgAuditDatabase> op = audit_test::OpenPgOrDie(Url(kOperatorLogin));
  ASSERT_TRUE(op);
  const std::string host = LocalHostName();

  // A run: its lock, a heartbeat, its events and its end, the lock released.
  Result<LockAttempt> lock = op->locks().TryLock("prod/web", "r1", getpid(), host);
  ASSERT_TRUE(lock.ok()) << lock.message();
  EXPECT_TRUE(lock->acquired);
  EXPECT_TRUE(op->locks().Heartbeat("prod/web", "r1", getpid(), host).ok());
  RecordRun(op->events(), RealRun("r1"));
  ASSERT_TRUE(op->locks().Unlock("prod/web", "r1").ok());

  // A run whose executor died on another machine, recovered from this one.
  ASSERT_TRUE(op->events().BeginRun(MakeRun("r2")).ok());
  ASSERT_TRUE(op->events().Append("r2", MakeEvent("run_started", 100)).ok());
  ASSERT_TRUE(op->locks().TryLock("prod/web", "r2", 4242, "build-7.invalid")->acquired);
  ASSERT_EQ(server_->Sql(dbname_,
                         "UPDATE locks SET heartbeat_at = clock_timestamp() - "
                         "interval '1 hour'"),
            "");
  Result<std::vector<StoredRun>> running = op->events().LastRunningRuns();
  ASSERT_TRUE(running.ok()) << running.message();
  ASSERT_EQ(running->size(), 1u);
  Result<RecoveryClaim> claim = op->locks().ClaimForRecovery("prod/web", "r2", getpid(), host);
  ASSERT_TRUE(claim.ok()) << claim.message();
  EXPECT_EQ(claim->outcome, RecoveryClaim::Outcome::kClaimed);
  ASSERT_TRUE(op->events().Append("r2", MakeEvent("run_recovered", 101)).ok());
  ASSERT_TRUE(op->events().EndRun("r2", "rolled_back", 1, At(102)).ok());
  ASSERT_TRUE(op->locks().Unlock("prod/web", "r2").ok());
  EXPECT_TRUE(op->events().LastRunningRuns()->empty());

  // A plan, approved, then run.
  ASSERT_TRUE(op->plans().SavePlan(MakePlan("p1")).ok());
  ASSERT_TRUE(op->plans().AddApproval({"p1", "carol", "approve", "ok", "", ""}).ok());
  ASSERT_TRUE(op->plans().SetPlanStatus("p1", "approved").ok());
  ASSERT_TRUE(op->plans().SetPlanStatus("p1", "executed").ok());
  EXPECT_EQ(op->plans().Approvals("p1")->size(), 1u);
  EXPECT_EQ(op->plans().ListPlans()->front().status, "executed");

  Result<VerifyReport> report = op->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 8);
}

// What an operator may not do is refused twice over: by the grants, and, for what the grants
// allow, by the append-only triggers (which stop the owner too: pg_append_only_test.cc).
TEST_F(PgRolesTest, AnOperatorCannotRewriteHistory) {
  SetUpTeamStore();
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<PgAuditDatabase> op = audit_test::OpenPgOrDie(Url(kOperatorLogin));
  ASSERT_TRUE(op);
  RecordRun(op->events(), RealRun("r1"));
  ASSERT_TRUE(op->plans().SavePlan(MakePlan("p1")).ok());
  ASSERT_TRUE(op->plans().AddApproval({"p1", "carol", "approve", "ok", "", ""}).ok());

  for (const char* sql : {
           "UPDATE events SET step = 'other' WHERE seq = 3",
           "DELETE FROM events WHERE seq = 6",
           "TRUNCATE events",
           "UPDATE runs SET runbook_text = 'x' WHERE run_id = 'r1'",
           "UPDATE runs SET operator = 'mallory'",
           "DELETE FROM runs",
           "UPDATE approvals SET decision = 'reject'",
           "DELETE FROM approvals",
           "UPDATE plans SET runbook_text = 'x'",
           "DELETE FROM plans",
           "UPDATE meta SET key = 'other' WHERE key = 'created_at'",
           "DELETE FROM meta",
           "ALTER TABLE events DISABLE TRIGGER USER",
           "DROP TRIGGER runbook_append_only ON events",
       }) {
    SCOPED_TRACE(sql);
    Status s = As(kOperatorLogin, sql);
    EXPECT_EQ(s.kind(), StatusKind::kRefused) << s.message();
    EXPECT_TRUE(s.message().find("permission denied") != std::string::npos ||
                s.message().find("must be owner") != std::string::npos)
        << s.message();
  }
  // The grants let a run be ended; the trigger lets it be ended once.
  for (const char* sql : {
           "UPDATE runs SET state = 'succeeded', exit_code = 0 WHERE run_id = 'r1'",
           "UPDATE runs SET finished_at = NULL WHERE run_id = 'r1'",
       }) {
    SCOPED_TRACE(sql);
    Status s = As(kOperatorLogin, sql);
    EXPECT_EQ(s.kind(), StatusKind::kRefused) << s.message();
    EXPECT_NE(s.message().find("the audit log is append-only: UPDATE on runs is refused"),
              std::string::npos)
        << s.message();
  }
  EXPECT_EQ(op->events().EndRun("r1", "succeeded", 0, At(50)).kind(), StatusKind::kRefused);

  Result<VerifyReport> report = op->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 6);
}

TEST_F(PgRolesTest, AnAuditorReadsAndVerifiesButWritesNothing) {
  SetUpTeamStore();
  ASSERT_FALSE(HasFatalFailure());
  {
    std::unique_ptr<PgAuditDatabase> op = audit_test::OpenPgOrDie(Url(kOperatorLogin));
    ASSERT_TRUE(op);
    RecordRun(op->events(), RealRun("r1"));
    ASSERT_TRUE(op->plans().SavePlan(MakePlan("p1")).ok());
    ASSERT_TRUE(op->plans().AddApproval({"p1", "carol", "approve", "ok", "", ""}).ok());
  }
  std::unique_ptr<PgAuditDatabase> auditor = audit_test::OpenPgOrDie(Url(kAuditorLogin));
  ASSERT_TRUE(auditor);
  EXPECT_EQ(auditor->events().ListRuns()->size(), 1u);
  EXPECT_EQ(auditor->events().GetRun("r1")->state, "rolled_back");
  EXPECT_EQ(auditor->events().Events("r1")->size(), 6u);
  EXPECT_EQ(auditor->plans().ListPlans()->size(), 1u);
  EXPECT_EQ(auditor->plans().Approvals("p1")->size(), 1u);
  Result<VerifyReport> report = auditor->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 6);

  EXPECT_EQ(auditor->events().BeginRun(RealRun("r2")).kind(), StatusKind::kRefused);
  EXPECT_EQ(auditor->events().Append("r1", MakeEvent("run_recovered", 50)).kind(),
            StatusKind::kRefused);
  EXPECT_EQ(auditor->events().EndRun("r1", "succeeded", 0, At(50)).kind(), StatusKind::kRefused);
  Result<LockAttempt> lock = auditor->locks().TryLock("prod/web", "r2", getpid(), "here");
  EXPECT_EQ(lock.status().kind(), StatusKind::kRefused) << lock.message();
  EXPECT_EQ(auditor->plans().SavePlan(MakePlan("p2")).kind(), StatusKind::kRefused);
  EXPECT_EQ(auditor->plans().AddApproval({"p1", "bo", "reject", "", "", ""}).kind(),
            StatusKind::kRefused);
  EXPECT_EQ(auditor->plans().SetPlanStatus("p1", "rejected").kind(), StatusKind::kRefused);
  Status s = As(kAuditorLogin, "UPDATE meta SET value = '0' WHERE key = 'chain_head_seq'");
  EXPECT_NE(s.message().find("permission denied for table meta"), std::string::npos) << s.message();
  EXPECT_TRUE(auditor->events().Verify()->ok);
}

}  // namespace
}  // namespace runbook
