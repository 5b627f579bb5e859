#include "audit/event_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "audit/audit_test_util.h"
#include "audit/hash_chain.h"

namespace runbook {
namespace {

using audit_test::DatabaseHolder;
using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::OpenOrDie;
using audit_test::ShortBusyTimeout;
using audit_test::Sql;
using audit_test::SqlValue;
using audit_test::TempDir;

// Two runs, five events each, interleaved: seq 1..10.
void RecordTwoRuns(EventLog& log) {
  ASSERT_TRUE(log.BeginRun(MakeRun("run-a")).ok());
  ASSERT_TRUE(log.BeginRun(MakeRun("run-b", "api-release")).ok());
  for (int i = 0; i < 5; ++i) {
    for (const char* run : {"run-a", "run-b"}) {
      AuditEvent e = MakeEvent(i == 0 ? "run_started" : "step_started", i * 100,
                               "step" + std::to_string(i), {{"i", i}, {"run", run}});
      Status s = log.Append(run, e);
      ASSERT_TRUE(s.ok()) << s.message();
    }
  }
}

VerifyReport VerifyOrDie(EventLog& log) {
  Result<VerifyReport> report = log.Verify();
  EXPECT_TRUE(report.ok()) << report.message();
  return report.ok() ? *report : VerifyReport{};
}

VerifyReport ReopenAndVerify(const std::string& path) {
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  return db ? VerifyOrDie(db->events()) : VerifyReport{};
}

// ---------------------------------------------------------------- runs and events

TEST(EventLogTest, AppendBuildsOneChainAcrossRuns) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  RecordTwoRuns(db->events());
  Result<std::vector<StoredEvent>> all = db->events().Events();
  ASSERT_TRUE(all.ok()) << all.message();
  ASSERT_EQ(all->size(), 10u);
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < all->size(); ++i) {
    const StoredEvent& e = (*all)[i];
    EXPECT_EQ(e.seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(e.prev_hash, prev) << "seq " << e.seq;
    EXPECT_EQ(e.hash, ChainHash(e.prev_hash, e));
    EXPECT_EQ(e.hash.size(), 64u);
    prev = e.hash;
  }
  EXPECT_EQ((*all)[0].run_id, "run-a");
  EXPECT_EQ((*all)[1].run_id, "run-b");
  EXPECT_EQ((*all)[2].ts, "2026-11-23T15:04:05.100Z");
  EXPECT_EQ((*all)[2].detail, nlohmann::json({{"i", 1}, {"run", "run-a"}}));

  Result<std::vector<StoredEvent>> b = db->events().Events(std::string("run-b"));
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 5u);
  for (const StoredEvent& e : *b) EXPECT_EQ(e.run_id, "run-b");
  EXPECT_EQ((*b)[1].prev_hash, (*all)[2].hash);  // linked to run-a's event between them
  EXPECT_TRUE(db->events().Events(std::string("nope"))->empty());

  VerifyReport report = VerifyOrDie(db->events());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 10);
  EXPECT_EQ(report.head_seq, 10);
  EXPECT_EQ(report.head_hash, all->back().hash);
}

TEST(EventLogTest, EventsOfKindsReadsOnlyThoseOfEveryRunInOrder) {
  TempDir dir;
  auto db = OpenOrDie(dir.File("audit.db"));
  EventLog& log = db->events();
  RecordTwoRuns(log);
  Result<std::vector<StoredEvent>> started = log.EventsOfKinds({EventKind::kRunStarted});
  ASSERT_TRUE(started.ok()) << started.message();
  ASSERT_EQ(started->size(), 2u);
  EXPECT_EQ((*started)[0].run_id, "run-a");
  EXPECT_EQ((*started)[1].run_id, "run-b");
  Result<std::vector<StoredEvent>> both =
      log.EventsOfKinds({EventKind::kStepStarted, EventKind::kRunStarted});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->size(), 10u);
  for (size_t i = 1; i < both->size(); ++i) EXPECT_LT((*both)[i - 1].seq, (*both)[i].seq);
  EXPECT_TRUE(log.EventsOfKinds({EventKind::kHostFailed})->empty());
  EXPECT_TRUE(log.EventsOfKinds({})->empty());
}

TEST(EventLogTest, EventsOfKindsOfSomeRunsReadsOnlyThoseRuns) {
  TempDir dir;
  auto db = OpenOrDie(dir.File("audit.db"));
  EventLog& log = db->events();
  RecordTwoRuns(log);
  using Runs = std::optional<std::vector<std::string>>;
  Result<std::vector<StoredEvent>> b =
      log.EventsOfKinds({EventKind::kStepStarted}, Runs({"run-b", "no-such-run"}));
  ASSERT_TRUE(b.ok()) << b.message();
  ASSERT_EQ(b->size(), 4u);
  for (const StoredEvent& e : *b) EXPECT_EQ(e.run_id, "run-b");
  EXPECT_TRUE(log.EventsOfKinds({EventKind::kStepStarted}, Runs(std::vector<std::string>{}))
                  ->empty());  // no runs: none of them, not every run
  // More runs than one statement binds: read in parts, still in seq order.
  std::vector<std::string> many(1200, "run-x");
  many[7] = "run-a";
  many[1100] = "run-b";
  Result<std::vector<StoredEvent>> both =
      log.EventsOfKinds({EventKind::kStepStarted, EventKind::kRunStarted}, Runs(many));
  ASSERT_TRUE(both.ok()) << both.message();
  ASSERT_EQ(both->size(), 10u);
  for (size_t i = 1; i < both->size(); ++i) EXPECT_LT((*both)[i - 1].seq, (*both)[i].seq);
}

TEST(EventLogTest, OpeningAFileMadeBeforeTheRunsIndexesAddsThem) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    auto db = OpenOrDie(path);
    RecordTwoRuns(db->events());
    RunRecord planned = MakeRun("run-p");
    planned.plan_id = "plan-9";
    ASSERT_TRUE(db->events().BeginRun(planned).ok());
  }
  auto index_count = [&] {
    return SqlValue(path,
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('runs_by_start', "
                    "'runs_by_plan')");
  };
  EXPECT_EQ(index_count(), "2");
  Sql(path, "DROP INDEX runs_by_start; DROP INDEX runs_by_plan");  // a version 1 file of before
  EXPECT_EQ(index_count(), "0");
  auto db = OpenOrDie(path);
  EXPECT_EQ(index_count(), "2");
  Result<std::vector<StoredRun>> of_plan = db->events().RunsOfPlan("plan-9");
  ASSERT_TRUE(of_plan.ok()) << of_plan.message();
  ASSERT_EQ(of_plan->size(), 1u);
  EXPECT_EQ(of_plan->front().run_id, "run-p");
  EXPECT_TRUE(db->events().RunsOfPlan("plan-none")->empty());
  EXPECT_TRUE(db->events().RunsOfPlan("")->empty());
  Result<std::vector<StoredRun>> newest = db->events().NewestRuns(1, "");
  ASSERT_TRUE(newest.ok()) << newest.message();
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->front().run_id, "run-p");
  EXPECT_TRUE(VerifyOrDie(db->events()).ok);
}

TEST(EventLogTest, StoresEveryColumnOfAnEvent) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->events().BeginRun(MakeRun("r")).ok());
  AuditEvent e = MakeEvent("attempt_finished", 1234, "migrate",
                           {{"exit_status", 2}, {"duration_ms", 1500}, {"error", "boom"}});
  e.phase = "rollback";
  e.from = "step:migrate";
  e.to = "rolling_back";
  e.attempt = 3;
  ASSERT_TRUE(db->events().Append("r", e).ok());
  StoredEvent got = db->events().Events()->front();
  EXPECT_EQ(got.ts, "2026-11-23T15:04:06.234Z");
  EXPECT_EQ(got.event, "attempt_finished");
  EXPECT_EQ(got.phase, "rollback");
  EXPECT_EQ(got.step, "migrate");
  EXPECT_EQ(got.from, "step:migrate");
  EXPECT_EQ(got.to, "rolling_back");
  EXPECT_EQ(got.attempt, 3);
  EXPECT_EQ(got.detail["exit_status"], 2);
  EXPECT_EQ(SqlValue(path, "SELECT from_state || '|' || to_state FROM events"),
            "step:migrate|rolling_back");
  EXPECT_EQ(SqlValue(path, "SELECT detail FROM events"),
            R"({"duration_ms":1500,"error":"boom","exit_status":2})");
}

TEST(EventLogTest, AppendNeedsItsRunAndEventsAreDurableOnReturn) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  Status s = db->events().Append("ghost", MakeEvent("run_started", 0));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown run"), std::string::npos) << s.message();
  EXPECT_TRUE(s.IsNotFound());
  ASSERT_TRUE(db->events().BeginRun(MakeRun("r")).ok());
  ASSERT_TRUE(db->events().Append("r", MakeEvent("run_started", 0)).ok());
  // Another connection sees it at once, while this db is still open.
  EXPECT_EQ(SqlValue(path, "SELECT event FROM events WHERE seq = 1"), "run_started");
  EXPECT_EQ(SqlValue(path, "SELECT value FROM meta WHERE key = 'chain_head_seq'"), "1");
}

TEST(EventLogTest, RunRowsBeginEndListAndGet) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  RunRecord a = MakeRun("run-a");
  a.plan_id = "plan-1";
  a.dry_run = true;
  ASSERT_TRUE(db->events().BeginRun(a).ok());
  RunRecord b = MakeRun("run-b");
  b.started_at = audit_test::At(5000);
  ASSERT_TRUE(db->events().BeginRun(b).ok());
  Status dup = db->events().BeginRun(a);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("already exists"), std::string::npos);

  ASSERT_TRUE(db->events().EndRun("run-a", "rolled_back", 1, std::chrono::system_clock::now()).ok());
  EXPECT_TRUE(db->events().EndRun("ghost", "succeeded", 0, std::chrono::system_clock::now()).IsNotFound());

  Result<std::vector<StoredRun>> runs = db->events().ListRuns();
  ASSERT_TRUE(runs.ok()) << runs.message();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "run-a");
  EXPECT_EQ((*runs)[0].state, "rolled_back");
  EXPECT_EQ((*runs)[0].exit_code, 1);
  EXPECT_FALSE((*runs)[0].finished_at.empty());
  EXPECT_TRUE((*runs)[0].runbook_text.empty());  // the list leaves the text out
  EXPECT_EQ((*runs)[1].run_id, "run-b");
  EXPECT_FALSE((*runs)[1].finished());
  EXPECT_FALSE((*runs)[1].exit_code.has_value());

  // A page of the newest: by start, oldest first within it, a runbook left out before the limit.
  RunRecord web = MakeRun("run-web");
  web.runbook = "(runbook serve)";
  web.started_at = audit_test::At(9000);
  ASSERT_TRUE(db->events().BeginRun(web).ok());
  auto ids = [](const Result<std::vector<StoredRun>>& list) {
    std::vector<std::string> out;
    if (list.ok())
      for (const StoredRun& r : *list) out.push_back(r.run_id);
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids(db->events().NewestRuns(2, "")), (Ids{"run-b", "run-web"}));
  EXPECT_EQ(ids(db->events().NewestRuns(1, "(runbook serve)")), (Ids{"run-b"}));
  EXPECT_EQ(ids(db->events().NewestRuns(5, "(runbook serve)")), (Ids{"run-a", "run-b"}));
  EXPECT_TRUE(db->events().NewestRuns(2, "")->front().runbook_text.empty());
  ASSERT_TRUE(db->events().EndRun("run-web", "succeeded", 0, std::chrono::system_clock::now()).ok());

  Result<StoredRun> got = db->events().GetRun("run-a");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->runbook, "web-release");
  EXPECT_EQ(got->runbook_path, "/srv/runbooks/web-release.yaml");
  EXPECT_EQ(got->runbook_text, a.runbook_text);
  EXPECT_EQ(got->runbook_sha256, a.runbook_sha256);
  EXPECT_EQ(got->params, a.params);
  EXPECT_EQ(got->operator_name, "alice");
  EXPECT_EQ(got->host, "build-1");
  EXPECT_EQ(got->pid, 4242);
  EXPECT_EQ(got->lock_key, "production/web-release");
  EXPECT_EQ(got->plan_id, "plan-1");
  EXPECT_TRUE(got->dry_run);
  EXPECT_EQ(got->started_at, "2026-11-23T15:04:05.000Z");

  EXPECT_EQ(db->events().GetRun("run-b")->runbook_sha256, b.runbook_sha256);
  RunRecord c = MakeRun("run-c");
  c.runbook_sha256.clear();
  ASSERT_TRUE(db->events().BeginRun(c).ok());
  EXPECT_EQ(db->events().GetRun("run-c")->runbook_sha256, Sha256Hex(c.runbook_text));
  ASSERT_TRUE(db->events().EndRun("run-c", "succeeded", 0, std::chrono::system_clock::now()).ok());

  Result<StoredRun> unknown = db->events().GetRun("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message(), "unknown run 'nope'");
  EXPECT_TRUE(unknown.status().IsNotFound());

  Result<std::vector<StoredRun>> running = db->events().LastRunningRuns();
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ(running->front().run_id, "run-b");
  EXPECT_EQ(running->front().runbook_text, b.runbook_text);  // recover needs the text
}

TEST(EventLogTest, ConcurrentAppendsFromTwoConnectionsKeepTheChainLinear) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> first = OpenOrDie(path);
  std::unique_ptr<AuditDatabase> second = OpenOrDie(path);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->events().BeginRun(MakeRun("one")).ok());
  ASSERT_TRUE(second->events().BeginRun(MakeRun("two")).ok());
  constexpr int kEach = 40;
  auto writer = [&](AuditDatabase* db, std::string run) {
    for (int i = 0; i < kEach; ++i) {
      Status s = db->events().Append(run, MakeEvent("step_started", i, "s", {{"i", i}}));
      EXPECT_TRUE(s.ok()) << s.message();
    }
  };
  std::thread a(writer, first.get(), "one");
  std::thread b(writer, second.get(), "two");
  a.join();
  b.join();
  Result<std::vector<StoredEvent>> events = first->events().Events();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u * kEach);
  for (size_t i = 1; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, (*events)[i - 1].seq + 1);
    EXPECT_EQ((*events)[i].prev_hash, (*events)[i - 1].hash);
  }
  VerifyReport report = VerifyOrDie(second->events());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 2 * kEach);
}

TEST(EventLogTest, ThreadsMayShareOneLog) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->events().BeginRun(MakeRun("r")).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&db, t] {
      for (int i = 0; i < 10; ++i) {
        Status s =
            db->events().Append("r", MakeEvent("attempt_finished", i, "host" + std::to_string(t)));
        EXPECT_TRUE(s.ok()) << s.message();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  VerifyReport report = VerifyOrDie(db->events());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 30);
}

// ---------------------------------------------------------------- verify

class EventLogVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("audit.db");
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
    ASSERT_TRUE(db);
    RecordTwoRuns(db->events());
    VerifyReport report = VerifyOrDie(db->events());
    ASSERT_TRUE(report.ok) << report.problem;
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(EventLogVerifyTest, DetectsAnEditedDetailValue) {
  Sql(path_, "UPDATE events SET detail = json_set(detail, '$.tampered', 1) WHERE seq = 5");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 5);
  EXPECT_EQ(report.problem, "event 5: hash does not match its contents (edited?)");
}

TEST_F(EventLogVerifyTest, AcceptsADetailThatWasOnlyReserialized) {
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
    ASSERT_TRUE(db);
    std::string pretty = db->events().Events()->at(4).detail.dump(4);
    ASSERT_NE(pretty.find('\n'), std::string::npos);
    Sql(path_, "UPDATE events SET detail = '" + pretty + "' WHERE seq = 5");
  }
  Sql(path_, "UPDATE events SET detail = json(detail) WHERE seq = 6");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(EventLogVerifyTest, DetectsADetailThatIsNoLongerJson) {
  Sql(path_, "UPDATE events SET detail = 'oops' WHERE seq = 3");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_EQ(report.problem, "event 3: detail is not valid JSON (edited?)");
  // Export still works: the raw text is kept as a string.
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
  EXPECT_EQ(db->events().Events()->at(2).detail, "oops");
}

TEST_F(EventLogVerifyTest, DetectsEditedColumns) {
  for (const char* edit :
       {"to_state = 'succeeded'", "run_id = 'run-x'", "attempt = 9", "attempt = 'x'",
        "ts = '2026-11-23T15:04:06.000Z'", "step = 'other'", "event = 'step_skipped'"}) {
    std::string backup = dir_.File("pristine.db");
    std::filesystem::copy_file(path_, backup, std::filesystem::copy_options::overwrite_existing);
    Sql(path_, std::string("UPDATE events SET ") + edit + " WHERE seq = 4");
    VerifyReport report = ReopenAndVerify(path_);
    EXPECT_FALSE(report.ok) << edit;
    EXPECT_EQ(report.bad_seq, 4) << edit;
    std::filesystem::copy_file(backup, path_, std::filesystem::copy_options::overwrite_existing);
  }
}

TEST_F(EventLogVerifyTest, DetectsADetailWithAKeyTwice) {
  Sql(path_, "UPDATE events SET detail = '{\"a\":1,\"a\":2}' WHERE seq = 3");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_NE(report.problem.find("a key twice"), std::string::npos) << report.problem;
  EXPECT_TRUE(HasDuplicateKeys(R"({"x":{"k":1,"k":1}})"));
  EXPECT_FALSE(HasDuplicateKeys(R"({"x":{"k":1},"y":{"k":1}})"));
  EXPECT_FALSE(HasDuplicateKeys("not json"));
}

// The fast path hashes a detail as it is stored only when it is stored canonically; every
// other form goes through the exact path, and what that path refuses stays refused.

TEST_F(EventLogVerifyTest, DetailsNotStoredCanonicallyStillVerifyThroughTheExactPath) {
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
    ASSERT_TRUE(db);
    // Floats and integers beyond 18 digits: stored canonically, but not in a form the fast
    // path recognises.
    ASSERT_TRUE(
        db->events()
            .Append("run-a",
                    MakeEvent("step_started", 600, "s",
                              {{"ratio", 0.25}, {"big", 12345678901234567890ULL}, {"path", "a/b"}}))
            .ok());
  }
  // Keys in another order, and escapes CanonicalJson does not write: the same values.
  Sql(path_, R"(UPDATE events SET detail = '{"run":"run-b","i":1}' WHERE seq = 4)");
  Sql(path_, R"(UPDATE events SET detail = '{"i":2,"run":"run\u002da"}' WHERE seq = 5)");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 11);
}

TEST_F(EventLogVerifyTest, AHashForgedOverAStoredFormTheExactPathRefusesIsStillRefused) {
  // What a forger who knows the fast path might try: store a detail the exact path refuses
  // and recompute the event's hash over the text as stored. The recogniser does not take such
  // a text, so the exact path sees it and names event 3, as it always has.
  const std::string backup = dir_.File("pristine.db");
  std::filesystem::copy_file(path_, backup);
  const std::vector<std::pair<std::string, std::string>> forgeries = {
      {R"({"i":1,"i":1,"run":"run-a"})",
       "event 3: detail has a key twice, which its hash cannot cover (edited?)"},
      {R"({"run":"run-a","i":1})", "event 3: hash does not match its contents (edited?)"},
      {R"({"i": 1,"run":"run-a"})", "event 3: hash does not match its contents (edited?)"},
      {R"({"i":1,"r\u0075n":"run-a"})", "event 3: hash does not match its contents (edited?)"},
  };
  for (const auto& [detail, problem] : forgeries) {
    SCOPED_TRACE(detail);
    std::filesystem::copy_file(backup, path_, std::filesystem::copy_options::overwrite_existing);
    StoredEvent e;
    {
      std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
      ASSERT_TRUE(db);
      e = db->events().Events()->at(2);
    }
    // The canonical event with the detail text spliced in as it is stored.
    e.detail = "@detail@";
    std::string text = CanonicalEvent(e);
    text.replace(text.find("\"@detail@\""), 10, detail);
    const std::string forged = Sha256Hex(e.prev_hash + text);
    Sql(path_,
        "UPDATE events SET detail = '" + detail + "', hash = '" + forged + "' WHERE seq = 3");
    VerifyReport report = ReopenAndVerify(path_);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.bad_seq, 3);
    EXPECT_EQ(report.problem, problem);
  }
}

TEST_F(EventLogVerifyTest, TheRunsRowIsHeldToItsRunStarted) {
  RunRecord run = MakeRun("run-c");
  run.runbook_sha256 = Sha256Hex(run.runbook_text);
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->events().BeginRun(run).ok());
    nlohmann::json detail = {{"runbook", run.runbook},   {"operator", run.operator_name},
                             {"host", run.host},         {"pid", run.pid},
                             {"dry_run", false},         {"params", run.params},
                             {"plan_id", ""},            {"lock", run.lock_key},
                             {"runbook_sha256", run.runbook_sha256}};
    ASSERT_TRUE(db->events().Append("run-c", MakeEvent("run_started", 900, "", detail)).ok());
    ASSERT_TRUE(VerifyOrDie(db->events()).ok);
  }
  const std::string forged = "runbook: web-release\nsteps: [evil]\n";
  for (std::string edit :
       {std::string("operator = 'mallory'"), std::string("params = '{}'"),
        std::string("lock_key = 'other'"),
        "runbook_text = '" + forged + "', runbook_sha256 = '" + Sha256Hex(forged) + "'"}) {
    std::string backup = dir_.File("pristine.db");
    std::filesystem::copy_file(path_, backup, std::filesystem::copy_options::overwrite_existing);
    Sql(path_, "UPDATE runs SET " + edit + " WHERE run_id = 'run-c'");
    VerifyReport report = ReopenAndVerify(path_);
    EXPECT_FALSE(report.ok) << edit;
    EXPECT_NE(report.problem.find("run run-c: the runs table's"), std::string::npos)
        << report.problem;
    std::filesystem::copy_file(backup, path_, std::filesystem::copy_options::overwrite_existing);
  }
}

TEST_F(EventLogVerifyTest, DetectsADeletedEvent) {
  Sql(path_, "DELETE FROM events WHERE seq = 5");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 6);
  EXPECT_EQ(report.problem, "event 6: follows event 4; event 5 is missing (deleted?)");
}

TEST_F(EventLogVerifyTest, DetectsADeletedFirstEvent) {
  Sql(path_, "DELETE FROM events WHERE seq <= 2");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_EQ(report.problem, "event 3: is the first event; events 1 to 2 are missing (deleted?)");
}

TEST_F(EventLogVerifyTest, DetectsDeletedLastEventsAndNeverReusesTheirSeq) {
  Sql(path_, "DELETE FROM events WHERE seq >= 9");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 9);
  EXPECT_NE(report.problem.find("chain head recorded in meta is event 10"), std::string::npos)
      << report.problem;
  // A later append continues after the deleted events, so the gap stays visible.
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
  ASSERT_TRUE(db->events().Append("run-a", MakeEvent("run_finished", 900)).ok());
  EXPECT_EQ(db->events().Events()->back().seq, 11);
  report = VerifyOrDie(db->events());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 11);
}

TEST_F(EventLogVerifyTest, DetectsSwappedEvents) {
  Sql(path_,
      "UPDATE events SET seq = -1 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4;"
      "UPDATE events SET seq = 4 WHERE seq = -1;");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_NE(report.problem.find("event 3: prev_hash does not match event 2"), std::string::npos)
      << report.problem;
}

TEST_F(EventLogVerifyTest, DetectsAnEditedPrevHash) {
  Sql(path_, "UPDATE events SET prev_hash = '" + std::string(64, 'f') + "' WHERE seq = 7");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 7);
  EXPECT_EQ(report.problem,
            "event 7: prev_hash does not match event 6 (an event was deleted or reordered, or "
            "prev_hash was edited)");
}

TEST_F(EventLogVerifyTest, DetectsARecomputedLastEventThroughTheMetaHead) {
  // Rewrite the last event and recompute its hash: the chain alone would look intact.
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path_);
  StoredEvent last = db->events().Events()->back();
  last.to = "succeeded";
  std::string hash = ChainHash(last.prev_hash, last);
  Sql(path_, "UPDATE events SET to_state = 'succeeded', hash = '" + hash + "' WHERE seq = 10");
  VerifyReport report = VerifyOrDie(db->events());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 10);
  EXPECT_NE(report.problem.find("chain head"), std::string::npos) << report.problem;
}

TEST(EventLogTest, VerifyOfAnEmptyLogIsOk) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  VerifyReport report = VerifyOrDie(db->events());
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.events_checked, 0);
  EXPECT_EQ(report.head_seq, 0);
}

// ---------------------------------------------------------------- busy

// In WAL mode a writer does not block readers: while another process holds the write lock,
// writes wait for it and then fail as busy, never as anything else, and reads and Verify go on.
// (A process that keeps readers out too, in exclusive locking mode, can only take the file
// before this connection opens it: AuditDatabase::Open is then busy, audit_database_test.cc.)
TEST(EventLogBusyTest, WritesToADatabaseAnotherProcessWritesAreBusyAndReadsStillWork) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path, ShortBusyTimeout());
  ASSERT_TRUE(db);
  RecordTwoRuns(db->events());
  {
    DatabaseHolder holder(path);  // a writer: WAL still lets readers through
    Status s = db->events().Append("run-a", MakeEvent("step_started", 900));
    EXPECT_TRUE(s.IsBusy()) << s.message();
    EXPECT_NE(s.message().find("cannot record event step_started of run run-a"), std::string::npos)
        << s.message();
    EXPECT_TRUE(db->events().BeginRun(MakeRun("run-c")).IsBusy());
    EXPECT_TRUE(db->events().EndRun("run-a", "succeeded", 0, std::chrono::system_clock::now()).IsBusy());
    EXPECT_EQ(db->events().Events()->size(), 10u);
    Result<VerifyReport> report = db->events().Verify();
    ASSERT_TRUE(report.ok()) << report.message();
    EXPECT_TRUE(report->ok) << report->problem;
  }
  ASSERT_TRUE(db->events().Append("run-a", MakeEvent("step_started", 900)).ok());
  EXPECT_EQ(VerifyOrDie(db->events()).head_seq, 11);
}

}  // namespace
}  // namespace runbook
