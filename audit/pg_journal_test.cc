// The PostgreSQL store when the server is out of reach (docs/team.md): records go to the
// journal on this machine, in order, and reach the shared chain when it can be reached again.
// The partition is real: the store talks to the server through a loopback proxy that the test
// cuts and mends.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "audit/pg_test_util.h"
#include "testing/tcp_proxy.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeEvent;
using audit_test::OpenPgOrDie;
using audit_test::PgTest;
using audit_test::RealRun;
using audit_test::RunStartedDetail;
using audit_test::TempDir;

class PgJournalTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    proxy_ = std::make_unique<testing::TcpProxy>(server_->port());
    ASSERT_TRUE(proxy_->ok());
    // The password file names the server's own port: through the proxy the URL carries it.
    proxied_url_ = "postgresql://" + server_->role() + ":" + server_->password() +
                   "@127.0.0.1:" + std::to_string(proxy_->port()) +
                   url_.substr(url_.rfind('/'));
    options_.state_dir = state_.File("state");
    options_.connect_timeout = std::chrono::seconds(2);
  }

  AuditEvent Event(const std::string& name, long long ms, const std::string& step = "") {
    return MakeEvent(name, ms, step, {{"n", ms}});
  }

  TempDir state_;
  std::unique_ptr<testing::TcpProxy> proxy_;
  std::string proxied_url_;
  PgStoreOptions options_;
};

TEST_F(PgJournalTest, RecordsWaitInTheJournalAndReachTheChainInOrderLater) {
  std::unique_ptr<PgAuditDatabase> store = OpenPgOrDie(proxied_url_, options_);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->ReserveJournal().ok());
  EXPECT_EQ(store->journal_path(),
            PgAuditDatabase::JournalPath(state_.File("state"), proxied_url_));
  const RunRecord run = RealRun("run-1");
  ASSERT_TRUE(store->events().BeginRun(run).ok());
  AuditEvent started = MakeEvent("run_started", 0, "", RunStartedDetail(run));
  started.to = "pending";
  ASSERT_TRUE(store->events().Append("run-1", started).ok());
  Result<LockAttempt> lock = store->locks().TryLock("prod/web", "run-1", getpid(), "here");
  ASSERT_TRUE(lock.ok() && lock->acquired) << lock.message();
  ASSERT_TRUE(store->events().Append("run-1", Event("step_started", 1, "a")).ok());

  // Another machine goes on writing to the chain meanwhile.
  std::unique_ptr<PgAuditDatabase> other = OpenPgOrDie(url_);
  ASSERT_TRUE(other);

  proxy_->Cut();
  // Each write is durable in the journal: ok, and counted.
  ASSERT_TRUE(store->events().Append("run-1", Event("step_failed", 2, "a")).ok());
  ASSERT_TRUE(store->events().Append("run-1", Event("rollback_started", 3, "a")).ok());
  audit_test::RecordRun(other->events(), RealRun("run-2"), 100);
  ASSERT_TRUE(store->events().Append("run-1", Event("run_finished", 4)).ok());
  ASSERT_TRUE(store->events().EndRun("run-1", "rolled_back", 1, At(5)).ok());
  bool journaled = false;
  ASSERT_TRUE(store->locks().Unlock("prod/web", "run-1", &journaled).ok());
  EXPECT_TRUE(journaled);
  const AuditBacklog backlog = store->events().Backlog("run-1");
  EXPECT_EQ(backlog.journaled, 5);  // three events, the run's end and the lock's release
  EXPECT_EQ(backlog.held, 0);
  EXPECT_FALSE(backlog.store_error.empty());
  EXPECT_EQ(store->JournalRecords().value(), 5);

  // Not yet in the shared store: the run is unfinished there and its lock still held.
  Result<std::vector<StoredEvent>> seen = other->events().Events("run-1");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size(), 2u);
  EXPECT_FALSE(other->locks().TryLock("prod/web", "run-3", getpid(), "there")->acquired);

  // The next command on this machine that reaches the store writes them, in order, behind
  // what the other machine wrote meanwhile.
  proxy_->Mend();
  std::unique_ptr<PgAuditDatabase> next = OpenPgOrDie(proxied_url_, options_);
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->journal_replay().status.ok()) << next->journal_replay().status.message();
  EXPECT_EQ(next->journal_replay().written, 5);
  EXPECT_EQ(next->JournalRecords().value(), 0);
  Result<std::vector<StoredEvent>> events = next->events().Events("run-1");
  ASSERT_TRUE(events.ok());
  std::vector<std::string> names;
  for (const StoredEvent& e : *events) names.push_back(e.event);
  EXPECT_EQ(names, (std::vector<std::string>{"run_started", "step_started", "step_failed",
                                             "rollback_started", "run_finished"}));
  EXPECT_EQ(next->events().GetRun("run-1")->state, "rolled_back");
  EXPECT_TRUE(next->locks().TryLock("prod/web", "run-3", getpid(), "there")->acquired);
  Result<VerifyReport> verify = next->events().Verify();
  ASSERT_TRUE(verify.ok()) << verify.message();
  EXPECT_TRUE(verify->ok) << verify->problem;
  EXPECT_EQ(verify->events_checked, 2 + 3 + 6);
}

TEST_F(PgJournalTest, AReplayCutOffBeforeTheJournalIsClearedWritesNothingTwice) {
  std::unique_ptr<PgAuditDatabase> store = OpenPgOrDie(proxied_url_, options_);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->ReserveJournal().ok());
  const RunRecord run = RealRun("run-1");
  ASSERT_TRUE(store->events().BeginRun(run).ok());
  AuditEvent started = MakeEvent("run_started", 0, "", RunStartedDetail(run));
  started.to = "pending";
  ASSERT_TRUE(store->events().Append("run-1", started).ok());
  proxy_->Cut();
  ASSERT_TRUE(store->events().Append("run-1", Event("step_started", 1, "a")).ok());
  ASSERT_TRUE(store->events().Append("run-1", Event("step_succeeded", 2, "a")).ok());
  proxy_->Mend();
  // After a failed connection the store tries again only a second later (pg_connection.h):
  // wait for that, so that the next write reaches the server.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));

  // A copy of the journal as it was: what a crash between the replay's COMMIT and the
  // clearing of the journal leaves.
  const std::string copy = state_.File("journal-copy");
  std::filesystem::copy_file(store->journal_path(), copy);
  ASSERT_TRUE(store->events().Append("run-1", Event("run_finished", 3)).ok());  // replays first
  EXPECT_EQ(store->events().Backlog("run-1").journaled, 2);
  EXPECT_EQ(store->JournalRecords().value(), 0);
  std::filesystem::copy_file(copy, store->journal_path(),
                             std::filesystem::copy_options::overwrite_existing);

  std::unique_ptr<PgAuditDatabase> next = OpenPgOrDie(proxied_url_, options_);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->journal_replay().written, 0);
  EXPECT_EQ(next->journal_replay().duplicates, 2);
  Result<std::vector<StoredEvent>> events = next->events().Events("run-1");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 4u);
  EXPECT_TRUE(next->events().Verify()->ok);
}

TEST_F(PgJournalTest, EachStoreHasItsOwnJournalAndNoPasswordInItsName) {
  const std::string a = PgAuditDatabase::JournalPath("/s", "postgresql://bo:secret@db/audit");
  EXPECT_EQ(a, PgAuditDatabase::JournalPath("/s", "postgresql://bo:other@db/audit"));
  EXPECT_NE(a, PgAuditDatabase::JournalPath("/s", "postgresql://bo@db/audit2"));
  EXPECT_EQ(a.rfind("/s/journal/", 0), 0u) << a;
  EXPECT_EQ(a.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace runbook
