#include "engine/host_ledger.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

using nlohmann::json;

// Builds a run's events in order, as the executor writes them.
class Events {
 public:
  Events& Add(EventKind kind, const std::string& phase, const std::string& step,
              json detail = json::object()) {
    views.push_back({++seq, kind, phase, step, "", "", 0, std::move(detail)});
    return *this;
  }
  Events& Host(const std::string& phase, const std::string& step, const std::string& host, bool ok,
               bool reached = true) {
    return Add(EventKind::kHostFinished, phase, step,
               HostFinishedDetail{.host = host,
                                  .exit_status = ok ? 0 : 1,
                                  .error = ok ? "" : "exit status 1",
                                  .reached = reached,
                                  .ok = ok});
  }
  HostLedger Fold() const {
    HostLedger ledger;
    for (const EventView& v : views) ledger.Add(v);
    return ledger;
  }

  std::vector<EventView> views;
  int64_t seq = 0;
};

// flip on web1..web3, web2 fails within max_fail and is undone at once by flip-rb.
Events FlipWithOneFailure(bool undo_ok) {
  Events e;
  e.Add(EventKind::kStepStarted, "step", "flip")
      .Add(EventKind::kAttemptStarted, "step", "flip")
      .Host("step", "flip", "web1", true)
      .Host("step", "flip", "web2", false)
      .Host("step", "flip", "web3", true)
      .Add(EventKind::kHostFailed, "step", "flip",
           HostFailedDetail{
               .host = "web2", .error = "exit status 1", .exit_status = 1, .reached = true})
      .Add(EventKind::kRollbackStarted, "rollback", "flip-rb",
           StepStartedDetail{.undoes = "flip", .only_hosts = {"web2"}})
      .Add(EventKind::kAttemptStarted, "rollback", "flip-rb")
      .Host("rollback", "flip-rb", "web2", undo_ok)
      .Add(undo_ok ? EventKind::kRollbackSucceeded : EventKind::kRollbackFailed, "rollback",
           "flip-rb")
      .Add(undo_ok ? EventKind::kStepSucceeded : EventKind::kStepFailed, "step", "flip");
  return e;
}

TEST(HostLedgerTest, AHostFailingWithinMaxFailIsListedLeftOutAndUndone) {
  const HostLedger ledger = FlipWithOneFailure(true).Fold();
  const std::vector<FailedHost> failed = ledger.FailedHosts();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].step, "flip");
  EXPECT_EQ(failed[0].host, "web2");
  EXPECT_EQ(failed[0].error, "exit status 1");
  EXPECT_TRUE(failed[0].within_max_fail);
  EXPECT_TRUE(failed[0].rolled_back);
  EXPECT_EQ(ledger.LeftOut(), (std::vector<std::pair<std::string, std::string>>{{"web2", "flip"}}));
  EXPECT_EQ(ledger.UndoneAtOnce("flip-rb"), std::set<std::string>{"web2"});
  EXPECT_TRUE(ledger.UndoneAtOnce("other").empty());

  const std::vector<HostTally> tally = ledger.Tally();
  ASSERT_EQ(tally.size(), 3u);
  EXPECT_EQ(tally[1].host, "web2");
  EXPECT_EQ(tally[1].failed, 1);
  EXPECT_EQ(tally[1].rolled_back, 1);
  EXPECT_EQ(tally[0].ok, 1);
  EXPECT_EQ(tally[0].failed, 0);
}

TEST(HostLedgerTest, AFailedUndoIsNamedAndDoesNotCountAsDone) {
  const HostLedger ledger = FlipWithOneFailure(false).Fold();
  const std::vector<FailedHost> failed = ledger.FailedHosts();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].rolled_back);
  EXPECT_EQ(failed[0].rollback_error, "flip-rb: exit status 1");
  EXPECT_TRUE(ledger.UndoneAtOnce("flip-rb").empty()) << "the run's rollback must try again";
  EXPECT_EQ(ledger.Tally()[1].rollback_failed, 1);
}

TEST(HostLedgerTest, TheRunsRollbackCompletesTheUndo) {
  Events e = FlipWithOneFailure(false);
  e.Add(EventKind::kRollbackStarted, "rollback", "flip-rb", StepStartedDetail{.undoes = "flip"})
      .Add(EventKind::kAttemptStarted, "rollback", "flip-rb")
      .Host("rollback", "flip-rb", "web1", true)
      .Host("rollback", "flip-rb", "web2", true)
      .Host("rollback", "flip-rb", "web3", true)
      .Add(EventKind::kRollbackSucceeded, "rollback", "flip-rb");
  const HostLedger ledger = e.Fold();
  EXPECT_TRUE(ledger.FailedHosts()[0].rolled_back);
  EXPECT_TRUE(ledger.UndoneAtOnce("flip-rb").empty()) << "only undos run at once count";
  EXPECT_EQ(ledger.Tally()[0].rolled_back, 1);
}

TEST(HostLedgerTest, HostsOfAFailedStepAreListedAsNotWithinMaxFail) {
  Events e;
  e.Add(EventKind::kStepStarted, "step", "flip")
      .Add(EventKind::kAttemptStarted, "step", "flip")
      .Host("step", "flip", "web1", false)
      .Host("step", "flip", "web2", true)
      .Add(EventKind::kAttemptStarted, "step", "flip")  // a retry: only its hosts count
      .Host("step", "flip", "web1", false, /*reached=*/false)
      .Host("step", "flip", "web2", false)
      .Add(EventKind::kStepFailed, "step", "flip");
  const HostLedger ledger = e.Fold();
  const std::vector<FailedHost> failed = ledger.FailedHosts();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_FALSE(failed[0].within_max_fail);
  EXPECT_FALSE(failed[0].reached);
  EXPECT_FALSE(failed[0].rolled_back);
  EXPECT_TRUE(ledger.LeftOut().empty()) << "the run rolls back: nothing later runs";
  EXPECT_EQ(ledger.Tally()[1].failed, 1);
  EXPECT_EQ(ledger.Tally()[1].ok, 0) << "one step, counted once, by its last attempt";
}

TEST(HostLedgerTest, SkippedHostsAreCountedAndOldLogsStillListTheirTolerances) {
  Events e;
  // Written before host_failed existed: the step succeeded although web2 failed.
  e.Add(EventKind::kStepStarted, "step", "flip")
      .Add(EventKind::kAttemptStarted, "step", "flip")
      .Host("step", "flip", "web1", true)
      .Add(EventKind::kHostFinished, "step", "flip",
           json{{"host", "web2"}, {"exit_status", 4}, {"error", "exit status 4"}})
      .Add(EventKind::kStepSucceeded, "step", "flip")
      .Add(EventKind::kStepStarted, "step", "after")
      .Add(EventKind::kHostSkipped, "step", "after",
           HostSkippedDetail{.host = "web2", .reason = "left out", .failed_in = "flip"});
  const HostLedger ledger = e.Fold();
  ASSERT_EQ(ledger.FailedHosts().size(), 1u);
  EXPECT_TRUE(ledger.FailedHosts()[0].within_max_fail);
  EXPECT_EQ(ledger.FailedHosts()[0].exit_status, 4);
  EXPECT_EQ(ledger.Tally()[1].skipped, 1);
}

TEST(HostLedgerTest, EventsOfOtherKindsAndUnknownOnesAreIgnored) {
  HostLedger ledger;
  ledger.Add({1, std::nullopt, "step", "x", "", "", 0, json{{"host", "web1"}}});
  ledger.Add({2, EventKind::kRunStarted, "run", "", "", "", 0, json::object()});
  ledger.Add({3, EventKind::kHostFinished, "step", "x", "", "", 1, json("not an object")});
  EXPECT_TRUE(ledger.empty());
  EXPECT_TRUE(ledger.FailedHosts().empty());
}

TEST(SameSshHostTest, ComparesHostAndPortWithEachTargetsDefault) {
  EXPECT_TRUE(SameSshHost("web1", 22, "web1:22", 2222));
  EXPECT_TRUE(SameSshHost("WEB1", 22, "web1", 22));
  EXPECT_TRUE(SameSshHost("web1", 2222, "web1:2222", 22));
  EXPECT_FALSE(SameSshHost("web1", 22, "web1", 2222));
  EXPECT_FALSE(SameSshHost("web1", 22, "web2", 22));
  EXPECT_TRUE(SameSshHost("[::1]:2222", 22, "[::1]", 2222));
  EXPECT_TRUE(SameSshHost("::1", 22, "[::1]:22", 22));
  EXPECT_FALSE(SameSshHost("[::1", 22, "::1", 22)) << "does not parse: compared as written";
}

}  // namespace
}  // namespace runbook
