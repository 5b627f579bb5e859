#include "audit/pg_append_only.h"

#include <gtest/gtest.h>

#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeEvent;
using audit_test::OpenPgOrDie;
using audit_test::PgTest;
using audit_test::RealRun;
using audit_test::RecordRun;

constexpr const char* kCountTriggers =
    "SELECT count(*) FROM pg_trigger WHERE tgname IN ('runbook_append_only', "
    "'runbook_no_truncate')";

class PgAppendOnlyTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(HasFatalFailure());
    RecordRun(db_->events(), RealRun("r1"));                  // ended: rolled_back, exit 1, at 6 ms
    ASSERT_TRUE(db_->events().BeginRun(RealRun("r2")).ok());  // still running
    PlanRecord plan;
    plan.plan_id = "p1";
    plan.hash = std::string(64, 'a');
    plan.runbook = "web-release";
    plan.runbook_text = "runbook: web-release\n";
    plan.requested_by = "alice";
    ASSERT_TRUE(db_->plans().SavePlan(plan).ok());
    ASSERT_TRUE(db_->plans().AddApproval({"p1", "bob", "approve", "ok", "", ""}).ok());
    Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(url_);
    ASSERT_TRUE(conn.ok()) << conn.message();
    owner_ = std::move(conn).value();
  }

  // Runs `sql` (statements) as the role that owns the tables (the fixture's), which all
  // grants allow.
  Status AsOwner(const std::string& sql) { return owner_->ExecScript(sql); }

  std::unique_ptr<PgConnection> owner_;
};

// Every rewrite of history is refused to the tables' owner itself (and to a superuser: the
// triggers hold for every role), with the rule that refuses it.
TEST_F(PgAppendOnlyTest, HistoryCannotBeRewrittenEvenByTheOwner) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"UPDATE events SET step = 'other' WHERE seq = 3",
       "UPDATE on events is refused (events are only ever added)"},
      {"DELETE FROM events WHERE seq = 6",
       "DELETE on events is refused (events are only ever added)"},
      {"TRUNCATE events", "TRUNCATE on events is refused (events are only ever added)"},
      {"UPDATE approvals SET decision = 'reject'",
       "UPDATE on approvals is refused (approvals are only ever added)"},
      {"DELETE FROM approvals", "DELETE on approvals is refused (approvals are only ever added)"},
      {"TRUNCATE approvals", "TRUNCATE on approvals is refused (approvals are only ever added)"},
      {"UPDATE runs SET runbook_text = 'x' WHERE run_id = 'r1'", "UPDATE on runs is refused"},
      {"UPDATE runs SET operator = 'mallory' WHERE run_id = 'r2'", "UPDATE on runs is refused"},
      // An ended run is not ended again, nor a running one ended without a finish time.
      {"UPDATE runs SET state = 'succeeded', exit_code = 0 WHERE run_id = 'r1'",
       "UPDATE on runs is refused (a run's row only gets its end once"},
      {"UPDATE runs SET finished_at = NULL WHERE run_id = 'r1'", "UPDATE on runs is refused"},
      {"UPDATE runs SET state = 'succeeded' WHERE run_id = 'r2'", "UPDATE on runs is refused"},
      {"DELETE FROM runs WHERE run_id = 'r2'", "DELETE on runs is refused"},
      {"TRUNCATE runs CASCADE", "TRUNCATE on runs is refused"},
      {"UPDATE plans SET runbook_text = 'x'",
       "UPDATE on plans is refused (a plan only changes its status)"},
      {"DELETE FROM plans", "DELETE on plans is refused"},
      {"TRUNCATE plans CASCADE", "TRUNCATE on plans is refused"},
  };
  for (const auto& [sql, rule] : refused) {
    SCOPED_TRACE(sql);
    Status s = AsOwner(sql);
    EXPECT_EQ(s.kind(), StatusKind::kRefused) << s.message();
    EXPECT_NE(s.message().find("the audit log is append-only: " + rule), std::string::npos)
        << s.message();
    EXPECT_EQ(owner_->last_sqlstate(), kAppendOnlySqlstate);
    // The superuser is held to the same rules.
    EXPECT_NE(server_->Sql(url_, "SET client_min_messages = warning; " + sql)
                  .find("the audit log is append-only"),
              std::string::npos);
  }
  // Through the store, the same: a second, different end of a run.
  Status again = db_->events().EndRun("r1", "succeeded", 0, At(7));
  EXPECT_EQ(again.kind(), StatusKind::kRefused) << again.message();

  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 6);
}

// What the store itself does is allowed: a run's end once, the same end again (a record sent
// twice), a plan's status as often as it changes.
TEST_F(PgAppendOnlyTest, TheEndOfARunAndAPlansStatusMayBeWritten) {
  EXPECT_TRUE(db_->events().Append("r2", MakeEvent("run_started", 20)).ok());
  Status end = db_->events().EndRun("r2", "succeeded", 0, At(30));
  EXPECT_TRUE(end.ok()) << end.message();
  end = db_->events().EndRun("r2", "succeeded", 0, At(30));
  EXPECT_TRUE(end.ok()) << end.message();
  EXPECT_TRUE(db_->events().EndRun("r1", "rolled_back", 1, At(6)).ok());
  EXPECT_TRUE(db_->plans().SetPlanStatus("p1", "approved").ok());
  EXPECT_TRUE(db_->plans().SetPlanStatus("p1", "executed").ok());
  EXPECT_EQ(db_->plans().GetPlan("p1")->status, "executed");
  EXPECT_TRUE(AsOwner("UPDATE runs SET state = state").ok());  // changes nothing
  EXPECT_EQ(SqlValue("SELECT state || ' ' || exit_code FROM runs WHERE run_id = 'r2'"),
            "succeeded 0");
}

// Rewriting history takes the owner's rights to turn the triggers off, and `audit verify`
// finds what was rewritten.
TEST_F(PgAppendOnlyTest, AnOwnerWhoTurnsTheTriggersOffIsFoundByVerify) {
  Status edit = AsOwner(
      "BEGIN; ALTER TABLE events DISABLE TRIGGER USER; "
      "UPDATE events SET step = 'other' WHERE seq = 3; "
      "ALTER TABLE events ENABLE TRIGGER USER; COMMIT");
  ASSERT_TRUE(edit.ok()) << edit.message();
  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->problem, "event 3: hash does not match its contents (edited?)");
}

// A store made before the triggers existed gets them at its owner's next open; a role that
// does not own the tables opens it all the same and leaves them to the owner.
TEST_F(PgAppendOnlyTest, TheOwnersOpenPutsMissingTriggersBack) {
  ASSERT_EQ(SqlValue(kCountTriggers), "8");
  for (const char* table : {"events", "approvals", "runs", "plans"}) {
    Sql(std::string("DROP TRIGGER runbook_append_only ON ") + table +
        "; DROP TRIGGER runbook_no_truncate ON " + table);
  }
  Sql("CREATE ROLE append_only_reader LOGIN");
  ASSERT_EQ(server_->SetPassword("append_only_reader"), "");
  Sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO append_only_reader");
  const std::string reader_url =
      "postgresql://append_only_reader@127.0.0.1:" + std::to_string(server_->port()) + "/" +
      url_.substr(url_.rfind('/') + 1);
  std::unique_ptr<PgAuditDatabase> reader = OpenPgOrDie(reader_url);
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->events().Verify()->ok);
  EXPECT_EQ(SqlValue(kCountTriggers), "0");

  ASSERT_TRUE(OpenPgOrDie(url_));
  EXPECT_EQ(SqlValue(kCountTriggers), "8");
  EXPECT_EQ(AsOwner("DELETE FROM events").kind(), StatusKind::kRefused);
  Sql("DROP OWNED BY append_only_reader; DROP ROLE append_only_reader");
}

}  // namespace
}  // namespace runbook
