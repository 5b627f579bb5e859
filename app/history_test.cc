// `runs`' query (newest first, filters) over a real SQLite store, and how --since and
// --older-than read a time.
#include "app/history.h"

#include <gtest/gtest.h>

#include "app/time_filter.h"
#include "audit/audit_database.h"
#include "audit/audit_test_util.h"
#include "audit/audit_time.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeRun;
using audit_test::TempDir;

constexpr long long kHour = 3600 * 1000;

class RunQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = AuditDatabase::Open(dir_.File("audit.db"));
    ASSERT_TRUE(opened.ok()) << opened.message();
    db_ = std::move(opened.value());
    // r1 .. r4, an hour apart.
    Add("r1", "web", "alice", 0, "succeeded");
    Add("r2", "db", "bob", 1 * kHour, "rolled_back");
    Add("r3", "web", "bob", 2 * kHour, "rollback_failed");
    Add("r4", "web", "alice", 3 * kHour, "");
  }

  void Add(const std::string& id, const std::string& runbook, const std::string& op,
           long long ms, const std::string& state) {
    RunRecord r = MakeRun(id, runbook);
    r.operator_name = op;
    r.started_at = At(ms);
    ASSERT_TRUE(db_->events().BeginRun(r).ok());
    if (!state.empty()) {
      ASSERT_TRUE(db_->events().EndRun(id, state, 1, At(ms + 1000)).ok());
    }
  }

  std::vector<std::string> Ids(const RunQuery& query) {
    auto list = ListRuns(db_->events(), query);
    EXPECT_TRUE(list.ok()) << list.message();
    std::vector<std::string> ids;
    if (list.ok())
      for (const StoredRun& r : list->runs) ids.push_back(r.run_id);
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<AuditDatabase> db_;
};

using Names = std::vector<std::string>;

TEST_F(RunQueryTest, ListsNewestFirst) { EXPECT_EQ(Ids({}), (Names{"r4", "r3", "r2", "r1"})); }

TEST_F(RunQueryTest, EachFilterNarrowsTheList) {
  RunQuery q;
  q.runbook = "web";
  EXPECT_EQ(Ids(q), (Names{"r4", "r3", "r1"}));
  q.limit = 2;
  EXPECT_EQ(Ids(q), (Names{"r4", "r3"}));
  q = {};
  q.operator_name = "bob";
  EXPECT_EQ(Ids(q), (Names{"r3", "r2"}));
  q = {};
  q.states = {"rolled_back", "rollback_failed"};
  EXPECT_EQ(Ids(q), (Names{"r3", "r2"}));
  q.states = {"unfinished"};
  EXPECT_EQ(Ids(q), (Names{"r4"}));
  q = {};
  q.since = At(2 * kHour);
  EXPECT_EQ(Ids(q), (Names{"r4", "r3"}));
  q.runbook = "db";
  EXPECT_TRUE(Ids(q).empty());
}

TEST_F(RunQueryTest, ExcludedRunbooksAreLeftOutBeforeTheLimit) {
  RunQuery q;
  q.exclude_runbooks = {"web"};
  EXPECT_EQ(Ids(q), (Names{"r2"}));
  q.exclude_runbooks = {"db", "nothing"};
  q.limit = 2;
  EXPECT_EQ(Ids(q), (Names{"r4", "r3"}));
}

TEST_F(RunQueryTest, AnUnknownStateIsInvalid) {
  RunQuery q;
  q.states = {"failed"};
  auto list = ListRuns(db_->events(), q);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().kind(), StatusKind::kInvalid);
  EXPECT_NE(list.message().find("--state failed is not a run state; use one of succeeded"),
            std::string::npos)
      << list.message();
}

TEST(TimeFilterTest, ReadsAgesDatesAndTimes) {
  const auto now = At(0);
  EXPECT_EQ(*ParseSince("7d", now), now - std::chrono::hours(7 * 24));
  EXPECT_EQ(*ParseSince("2w", now), now - std::chrono::hours(14 * 24));
  EXPECT_EQ(*ParseSince("12h", now), now - std::chrono::hours(12));
  EXPECT_EQ(*ParseSince("1h30m", now), now - std::chrono::minutes(90));
  EXPECT_EQ(FormatAuditTime(*ParseSince("2026-11-01", now)), "2026-11-01T00:00:00.000Z");
  EXPECT_EQ(FormatAuditTime(*ParseSince("2026-11-01T12:30:00Z", now)),
            "2026-11-01T12:30:00.000Z");
  for (const char* bad : {"", "7", "yesterday", "2026-13-01", "-1d", "2026-11-01T12:00:00+02:00"}) {
    auto since = ParseSince(bad, now);
    EXPECT_FALSE(since.ok()) << bad;
    EXPECT_EQ(since.status().kind(), StatusKind::kInvalid) << bad;
  }
  EXPECT_EQ(ParseAge("30m").value(), std::chrono::minutes(30));
  EXPECT_FALSE(ParseAge("soon").ok());
}

}  // namespace
}  // namespace runbook
