#include "audit/audit_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/audit_test_util.h"
#include "audit/hash_chain.h"

namespace runbook {
namespace {

using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::Sql;
using audit_test::SqlValue;
using audit_test::TempDir;

std::unique_ptr<AuditStore> OpenOrDie(const std::string& path) {
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.message();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Two runs, five events each, interleaved: seq 1..10.
void RecordTwoRuns(AuditStore& store) {
  ASSERT_TRUE(store.BeginRun(MakeRun("run-a")).ok());
  ASSERT_TRUE(store.BeginRun(MakeRun("run-b", "api-release")).ok());
  for (int i = 0; i < 5; ++i) {
    for (const char* run : {"run-a", "run-b"}) {
      AuditEvent e = MakeEvent(i == 0 ? "run_started" : "step_started", i * 100,
                               "step" + std::to_string(i), {{"i", i}, {"run", run}});
      Status s = store.Append(run, e);
      ASSERT_TRUE(s.ok()) << s.message();
    }
  }
}

VerifyReport VerifyOrDie(AuditStore& store) {
  Result<VerifyReport> report = store.Verify();
  EXPECT_TRUE(report.ok()) << report.message();
  return report.ok() ? *report : VerifyReport{};
}

VerifyReport ReopenAndVerify(const std::string& path) {
  std::unique_ptr<AuditStore> store = OpenOrDie(path);
  return store ? VerifyOrDie(*store) : VerifyReport{};
}

// ---------------------------------------------------------------- open

TEST(AuditStoreOpenTest, CreatesTheFolderAndTheSchema) {
  TempDir dir;
  const std::string path = dir.File(".runbook/nested/audit.db");
  {
    std::unique_ptr<AuditStore> store = OpenOrDie(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->path(), path);
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(SqlValue(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(SqlValue(path, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  for (const char* table : {"meta", "runs", "events", "locks", "plans", "approvals"}) {
    EXPECT_EQ(SqlValue(path, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                                 table + "'"),
              "1")
        << table;
  }
  // Opening again keeps what is there.
  std::unique_ptr<AuditStore> again = OpenOrDie(path);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->BeginRun(MakeRun("r")).ok());
  ASSERT_TRUE(again->Append("r", MakeEvent("run_started", 0)).ok());
  again.reset();
  std::unique_ptr<AuditStore> third = OpenOrDie(path);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->Events()->size(), 1u);
}

TEST(AuditStoreOpenTest, RefusesANewerSchemaVersion) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  OpenOrDie(path);
  Sql(path, "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(),
            "audit database " + path + " has schema version 7; this runbook understands 1");
}

TEST(AuditStoreOpenTest, RefusesAnUnknownSchemaVersion) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  OpenOrDie(path);
  Sql(path, "UPDATE meta SET value = 'banana' WHERE key = 'schema_version'");
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.message().find("has schema version banana; this runbook understands 1"),
            std::string::npos)
      << store.message();
  Sql(path, "DELETE FROM meta WHERE key = 'schema_version'");
  store = AuditStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.message().find("schema version (none)"), std::string::npos) << store.message();
}

TEST(AuditStoreOpenTest, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    std::ofstream out(path);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not an SQLite database\n";
  }
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.message(), "audit database " + path + " is not an SQLite database");
  // The file was left as it was.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "this is a text file, not an SQLite database");
}

TEST(AuditStoreOpenTest, RefusesAnotherProgramsDatabase) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  Sql(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.message().find("not a runbook audit log"), std::string::npos) << store.message();
}

TEST(AuditStoreOpenTest, RefusesADirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("db"));
  Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(dir.File("db"));
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.message().find("is a directory"), std::string::npos) << store.message();
}

TEST(AuditStoreOpenTest, ATruncatedFileGivesAClearErrorNotACrash) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    std::unique_ptr<AuditStore> store = OpenOrDie(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->BeginRun(MakeRun("big")).ok());
    for (int i = 0; i < 150; ++i) {
      ASSERT_TRUE(store
                      ->Append("big", MakeEvent("step_started", i, "s",
                                                {{"output_tail", std::string(400, 'x')}}))
                      .ok());
    }
  }  // the last connection checkpoints the WAL into the file and removes it
  const auto full = std::filesystem::file_size(path);
  ASSERT_GT(full, 40000u);
  for (auto size : {full / 2, full / 8, decltype(full){50}}) {
    std::filesystem::resize_file(path, size);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    Result<std::unique_ptr<AuditStore>> store = AuditStore::Open(path);
    std::string problem;
    if (!store.ok()) {
      problem = store.message();
    } else {
      Result<VerifyReport> report = (*store)->Verify();
      if (!report.ok()) {
        problem = report.message();
      } else if (!report->ok) {
        problem = report->problem;
      }
      Result<std::vector<StoredEvent>> events = (*store)->Events();
      EXPECT_FALSE(events.ok()) << "size " << size;
    }
    EXPECT_TRUE(problem.find("corrupt") != std::string::npos ||
                problem.find("not an SQLite database") != std::string::npos)
        << "size " << size << ": " << problem;
    EXPECT_NE(problem.find(path), std::string::npos) << problem;
  }
}

// ---------------------------------------------------------------- runs and events

TEST(AuditStoreTest, AppendBuildsOneChainAcrossRuns) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  RecordTwoRuns(*store);
  Result<std::vector<StoredEvent>> all = store->Events();
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

  Result<std::vector<StoredEvent>> b = store->Events(std::string("run-b"));
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 5u);
  for (const StoredEvent& e : *b) EXPECT_EQ(e.run_id, "run-b");
  EXPECT_EQ((*b)[1].prev_hash, (*all)[2].hash);  // linked to run-a's event between them
  EXPECT_TRUE(store->Events(std::string("nope"))->empty());

  VerifyReport report = VerifyOrDie(*store);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 10);
  EXPECT_EQ(report.head_seq, 10);
  EXPECT_EQ(report.head_hash, all->back().hash);
}

TEST(AuditStoreTest, StoresEveryColumnOfAnEvent) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditStore> store = OpenOrDie(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->BeginRun(MakeRun("r")).ok());
  AuditEvent e = MakeEvent("attempt_finished", 1234, "migrate",
                           {{"exit_status", 2}, {"duration_ms", 1500}, {"error", "boom"}});
  e.phase = "rollback";
  e.from = "step:migrate";
  e.to = "rolling_back";
  e.attempt = 3;
  ASSERT_TRUE(store->Append("r", e).ok());
  StoredEvent got = store->Events()->front();
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

TEST(AuditStoreTest, AppendNeedsItsRunAndEventsAreDurableOnReturn) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditStore> store = OpenOrDie(path);
  ASSERT_TRUE(store);
  Status s = store->Append("ghost", MakeEvent("run_started", 0));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown run"), std::string::npos) << s.message();
  ASSERT_TRUE(store->BeginRun(MakeRun("r")).ok());
  ASSERT_TRUE(store->Append("r", MakeEvent("run_started", 0)).ok());
  // Another connection sees it at once, while this store is still open.
  EXPECT_EQ(SqlValue(path, "SELECT event FROM events WHERE seq = 1"), "run_started");
  EXPECT_EQ(SqlValue(path, "SELECT value FROM meta WHERE key = 'chain_head_seq'"), "1");
}

TEST(AuditStoreTest, RunRowsBeginEndListAndGet) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  RunRecord a = MakeRun("run-a");
  a.plan_id = "plan-1";
  a.dry_run = true;
  ASSERT_TRUE(store->BeginRun(a).ok());
  RunRecord b = MakeRun("run-b");
  b.started_at = audit_test::At(5000);
  ASSERT_TRUE(store->BeginRun(b).ok());
  Status dup = store->BeginRun(a);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("already exists"), std::string::npos);

  ASSERT_TRUE(store->EndRun("run-a", "rolled_back", 1).ok());
  EXPECT_FALSE(store->EndRun("ghost", "succeeded", 0).ok());

  Result<std::vector<StoredRun>> runs = store->ListRuns();
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

  Result<StoredRun> got = store->GetRun("run-a");
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

  EXPECT_EQ(store->GetRun("run-b")->runbook_sha256, b.runbook_sha256);
  RunRecord c = MakeRun("run-c");
  c.runbook_sha256.clear();
  ASSERT_TRUE(store->BeginRun(c).ok());
  EXPECT_EQ(store->GetRun("run-c")->runbook_sha256, Sha256Hex(c.runbook_text));
  ASSERT_TRUE(store->EndRun("run-c", "succeeded", 0).ok());

  Result<StoredRun> unknown = store->GetRun("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message(), "unknown run 'nope'");

  Result<std::vector<StoredRun>> running = store->LastRunningRuns();
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ(running->front().run_id, "run-b");
  EXPECT_EQ(running->front().runbook_text, b.runbook_text);  // recover needs the text
}

TEST(AuditStoreTest, ConcurrentAppendsFromTwoConnectionsKeepTheChainLinear) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditStore> first = OpenOrDie(path);
  std::unique_ptr<AuditStore> second = OpenOrDie(path);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->BeginRun(MakeRun("one")).ok());
  ASSERT_TRUE(second->BeginRun(MakeRun("two")).ok());
  constexpr int kEach = 40;
  auto writer = [&](AuditStore* store, std::string run) {
    for (int i = 0; i < kEach; ++i) {
      Status s = store->Append(run, MakeEvent("step_started", i, "s", {{"i", i}}));
      EXPECT_TRUE(s.ok()) << s.message();
    }
  };
  std::thread a(writer, first.get(), "one");
  std::thread b(writer, second.get(), "two");
  a.join();
  b.join();
  Result<std::vector<StoredEvent>> events = first->Events();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u * kEach);
  for (size_t i = 1; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, (*events)[i - 1].seq + 1);
    EXPECT_EQ((*events)[i].prev_hash, (*events)[i - 1].hash);
  }
  VerifyReport report = VerifyOrDie(*second);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 2 * kEach);
}

TEST(AuditStoreTest, ThreadsMayShareOneStore) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->BeginRun(MakeRun("r")).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 10; ++i) {
        Status s = store->Append("r", MakeEvent("attempt_finished", i, "host" + std::to_string(t)));
        EXPECT_TRUE(s.ok()) << s.message();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  VerifyReport report = VerifyOrDie(*store);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, 30);
}

// ---------------------------------------------------------------- verify

class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("audit.db");
    std::unique_ptr<AuditStore> store = OpenOrDie(path_);
    ASSERT_TRUE(store);
    RecordTwoRuns(*store);
    VerifyReport report = VerifyOrDie(*store);
    ASSERT_TRUE(report.ok) << report.problem;
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(AuditVerifyTest, DetectsAnEditedDetailValue) {
  Sql(path_, "UPDATE events SET detail = json_set(detail, '$.tampered', 1) WHERE seq = 5");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 5);
  EXPECT_EQ(report.problem, "event 5: hash does not match its contents (edited?)");
}

TEST_F(AuditVerifyTest, AcceptsADetailThatWasOnlyReserialized) {
  {
    std::unique_ptr<AuditStore> store = OpenOrDie(path_);
    ASSERT_TRUE(store);
    std::string pretty = store->Events()->at(4).detail.dump(4);
    ASSERT_NE(pretty.find('\n'), std::string::npos);
    Sql(path_, "UPDATE events SET detail = '" + pretty + "' WHERE seq = 5");
  }
  Sql(path_, "UPDATE events SET detail = json(detail) WHERE seq = 6");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(AuditVerifyTest, DetectsADetailThatIsNoLongerJson) {
  Sql(path_, "UPDATE events SET detail = 'oops' WHERE seq = 3");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_EQ(report.problem, "event 3: detail is not valid JSON (edited?)");
  // Export still works: the raw text is kept as a string.
  std::unique_ptr<AuditStore> store = OpenOrDie(path_);
  EXPECT_EQ(store->Events()->at(2).detail, "oops");
}

TEST_F(AuditVerifyTest, DetectsEditedColumns) {
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

TEST_F(AuditVerifyTest, DetectsADeletedEvent) {
  Sql(path_, "DELETE FROM events WHERE seq = 5");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 6);
  EXPECT_EQ(report.problem, "event 6: follows event 4; event 5 is missing (deleted?)");
}

TEST_F(AuditVerifyTest, DetectsADeletedFirstEvent) {
  Sql(path_, "DELETE FROM events WHERE seq <= 2");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_EQ(report.problem, "event 3: is the first event; events 1 to 2 are missing (deleted?)");
}

TEST_F(AuditVerifyTest, DetectsDeletedLastEventsAndNeverReusesTheirSeq) {
  Sql(path_, "DELETE FROM events WHERE seq >= 9");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 9);
  EXPECT_NE(report.problem.find("chain head recorded in meta is event 10"), std::string::npos)
      << report.problem;
  // A later append continues after the deleted events, so the gap stays visible.
  std::unique_ptr<AuditStore> store = OpenOrDie(path_);
  ASSERT_TRUE(store->Append("run-a", MakeEvent("run_finished", 900)).ok());
  EXPECT_EQ(store->Events()->back().seq, 11);
  report = VerifyOrDie(*store);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 11);
}

TEST_F(AuditVerifyTest, DetectsSwappedEvents) {
  Sql(path_,
      "UPDATE events SET seq = -1 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4;"
      "UPDATE events SET seq = 4 WHERE seq = -1;");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 3);
  EXPECT_NE(report.problem.find("event 3: prev_hash does not match event 2"), std::string::npos)
      << report.problem;
}

TEST_F(AuditVerifyTest, DetectsAnEditedPrevHash) {
  Sql(path_, "UPDATE events SET prev_hash = '" + std::string(64, 'f') + "' WHERE seq = 7");
  VerifyReport report = ReopenAndVerify(path_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 7);
  EXPECT_EQ(report.problem,
            "event 7: prev_hash does not match event 6 (an event was deleted or reordered, or "
            "prev_hash was edited)");
}

TEST_F(AuditVerifyTest, DetectsARecomputedLastEventThroughTheMetaHead) {
  // Rewrite the last event and recompute its hash: the chain alone would look intact.
  std::unique_ptr<AuditStore> store = OpenOrDie(path_);
  StoredEvent last = store->Events()->back();
  last.to = "succeeded";
  std::string hash = ChainHash(last.prev_hash, last);
  Sql(path_, "UPDATE events SET to_state = 'succeeded', hash = '" + hash + "' WHERE seq = 10");
  VerifyReport report = VerifyOrDie(*store);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_seq, 10);
  EXPECT_NE(report.problem.find("chain head"), std::string::npos) << report.problem;
}

TEST(AuditStoreTest, VerifyOfAnEmptyLogIsOk) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  VerifyReport report = VerifyOrDie(*store);
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.events_checked, 0);
  EXPECT_EQ(report.head_seq, 0);
}

// ---------------------------------------------------------------- locks

// The pid of a child that has exited and been reaped.
int DeadPid() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

TEST(AuditLockTest, AcquireRefuseReleaseAndReacquire) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  const std::string host = LocalHostName();
  Result<LockAttempt> a = store->TryLock("prod/web", "run-a", getpid(), host);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_TRUE(a->acquired);
  EXPECT_FALSE(a->took_over);

  Result<LockAttempt> b = store->TryLock("prod/web", "run-b", getpid(), host);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->acquired);
  EXPECT_EQ(b->holder.run_id, "run-a");
  EXPECT_EQ(b->holder.pid, getpid());
  EXPECT_EQ(b->holder.host, host);
  EXPECT_TRUE(b->holder.same_host);
  EXPECT_TRUE(b->holder.alive);
  EXPECT_EQ(b->holder.acquired_at.size(), 24u);

  // Another key is independent.
  EXPECT_TRUE(store->TryLock("prod/api", "run-b", getpid(), host)->acquired);

  Status wrong = store->Unlock("prod/web", "run-b");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("held by run run-a"), std::string::npos) << wrong.message();
  ASSERT_TRUE(store->Unlock("prod/web", "run-a").ok());
  ASSERT_TRUE(store->Unlock("prod/web", "run-a").ok());  // releasing twice is harmless
  EXPECT_TRUE(store->TryLock("prod/web", "run-b", getpid(), host)->acquired);

  Result<std::vector<LockHolder>> locks = store->ListLocks();
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->size(), 2u);
  EXPECT_EQ((*locks)[0].lock_key, "prod/api");
  EXPECT_EQ((*locks)[1].run_id, "run-b");
}

TEST(AuditLockTest, ALockIsSeenByEveryConnection) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditStore> one = OpenOrDie(path);
  std::unique_ptr<AuditStore> two = OpenOrDie(path);
  ASSERT_TRUE(one->TryLock("k", "run-a", getpid(), LocalHostName())->acquired);
  EXPECT_FALSE(two->TryLock("k", "run-b", getpid(), LocalHostName())->acquired);
}

TEST(AuditLockTest, ADeadHolderWithAnUnfinishedRunIsReportedNotStolen) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  const int dead = DeadPid();
  ASSERT_TRUE(store->BeginRun(MakeRun("crashed")).ok());
  ASSERT_TRUE(store->TryLock("k", "crashed", dead, LocalHostName())->acquired);
  Result<LockAttempt> next = store->TryLock("k", "next", getpid(), LocalHostName());
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->acquired);
  EXPECT_EQ(next->holder.run_id, "crashed");
  EXPECT_EQ(next->holder.pid, dead);
  EXPECT_FALSE(next->holder.alive);
  // recover continues the run under the same lock, then frees it.
  Result<LockAttempt> recover = store->TryLock("k", "crashed", getpid(), LocalHostName());
  ASSERT_TRUE(recover->acquired);
  EXPECT_EQ(store->ListLocks()->front().pid, getpid());
  ASSERT_TRUE(store->ForceUnlock("k").ok());
  EXPECT_TRUE(store->ListLocks()->empty());
  EXPECT_TRUE(store->TryLock("k", "next", getpid(), LocalHostName())->acquired);
}

TEST(AuditLockTest, ADeadHolderWithNothingToRecoverIsTakenOver) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  const int dead = DeadPid();
  // Its run ended, but the process died before it released the lock.
  ASSERT_TRUE(store->BeginRun(MakeRun("ended")).ok());
  ASSERT_TRUE(store->EndRun("ended", "succeeded", 0).ok());
  ASSERT_TRUE(store->TryLock("k1", "ended", dead, LocalHostName())->acquired);
  Result<LockAttempt> a = store->TryLock("k1", "next", getpid(), LocalHostName());
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_TRUE(a->took_over);
  EXPECT_EQ(a->holder.run_id, "ended");
  // It died before its run row was written: nothing ran.
  ASSERT_TRUE(store->TryLock("k2", "never-began", dead, LocalHostName())->acquired);
  EXPECT_TRUE(store->TryLock("k2", "next", getpid(), LocalHostName())->acquired);
}

TEST(AuditLockTest, AZombieOrAReusedPidIsNotAlive) {
  pid_t zombie = fork();
  if (zombie == 0) _exit(0);
  // Wait until the child has exited but leave it unreaped.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(ProcessAlive(zombie, ""));
  waitpid(zombie, nullptr, 0);
  EXPECT_FALSE(ProcessAlive(zombie, ""));

  EXPECT_TRUE(ProcessAlive(getpid(), ""));
  EXPECT_TRUE(ProcessAlive(getpid(), ProcessStartTime(getpid())));
  EXPECT_FALSE(ProcessAlive(getpid(), "1"));  // our pid, but not the process that locked
  EXPECT_TRUE(ProcessAlive(1, ""));           // init: exists even if we may not signal it
  EXPECT_FALSE(ProcessAlive(0, ""));
  EXPECT_FALSE(ProcessStartTime(getpid()).empty());

  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditStore> store = OpenOrDie(path);
  ASSERT_TRUE(store->BeginRun(MakeRun("old")).ok());
  ASSERT_TRUE(store->TryLock("k", "old", getpid(), LocalHostName())->acquired);
  Sql(path, "UPDATE locks SET pid_start = '1'");
  Result<LockAttempt> next = store->TryLock("k", "next", getpid(), LocalHostName());
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.alive);
}

TEST(AuditLockTest, AHolderOnAnotherHostCountsAsAlive) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store->TryLock("k", "remote", DeadPid(), "some-other-host.invalid")->acquired);
  Result<LockAttempt> next = store->TryLock("k", "next", getpid(), LocalHostName());
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.same_host);
  EXPECT_TRUE(next->holder.alive);
}

// ---------------------------------------------------------------- plans

TEST(AuditPlanTest, SaveGetListAndApprove) {
  TempDir dir;
  std::unique_ptr<AuditStore> store = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(store);
  PlanRecord p;
  p.plan_id = "p-1";
  p.hash = std::string(64, 'c');
  p.runbook = "guarded";
  p.runbook_path = "/x/guarded.yaml";
  p.runbook_text = "runbook: guarded\n";
  p.params = {{"v", "1"}};
  p.requested_by = "alice";
  p.document = {{"steps", {"go"}}, {"risk", "high"}};
  ASSERT_TRUE(store->SavePlan(p).ok());
  PlanRecord q = p;
  q.plan_id = "p-2";
  q.created_at = "2030-01-01T00:00:00.000Z";
  q.status = "approved";
  ASSERT_TRUE(store->SavePlan(q).ok());
  Status dup = store->SavePlan(p);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("already exists"), std::string::npos);

  Result<PlanRecord> got = store->GetPlan("p-1");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->hash, p.hash);
  EXPECT_EQ(got->runbook, "guarded");
  EXPECT_EQ(got->runbook_path, "/x/guarded.yaml");
  EXPECT_EQ(got->runbook_text, p.runbook_text);
  EXPECT_EQ(got->params, p.params);
  EXPECT_EQ(got->requested_by, "alice");
  EXPECT_EQ(got->status, "pending");
  EXPECT_EQ(got->created_at.size(), 24u);
  EXPECT_EQ(got->document, p.document);
  Result<PlanRecord> unknown = store->GetPlan("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message(), "unknown plan 'nope'");

  Result<std::vector<PlanRecord>> plans = store->ListPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].plan_id, "p-1");
  EXPECT_EQ((*plans)[1].status, "approved");

  ASSERT_TRUE(store->SetPlanStatus("p-1", "rejected").ok());
  EXPECT_EQ(store->GetPlan("p-1")->status, "rejected");
  EXPECT_FALSE(store->SetPlanStatus("nope", "x").ok());

  ApprovalRecord a{"p-1", "bob", "approve", "lgtm", "", ""};
  ASSERT_TRUE(store->AddApproval(a).ok());
  ASSERT_TRUE(store->AddApproval({"p-1", "carol", "reject", "not today", "sig", ""}).ok());
  EXPECT_FALSE(store->AddApproval({"p-1", "dave", "maybe", "", "", ""}).ok());
  EXPECT_FALSE(store->AddApproval({"nope", "dave", "approve", "", "", ""}).ok());
  Result<std::vector<ApprovalRecord>> approvals = store->Approvals("p-1");
  ASSERT_TRUE(approvals.ok());
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ((*approvals)[0].approver, "bob");
  EXPECT_EQ((*approvals)[1].decision, "reject");
  EXPECT_EQ((*approvals)[1].signature, "sig");
  EXPECT_TRUE(store->Approvals("p-2")->empty());
}

}  // namespace
}  // namespace runbook
