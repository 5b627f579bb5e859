#include "audit/pg_event_log.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "audit/audit_format.h"
#include "audit/hash_chain.h"
#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeEvent;
using audit_test::OpenOrDie;
using audit_test::OpenPgOrDie;
using audit_test::PgTest;
using audit_test::RealRun;
using audit_test::RecordRun;
using audit_test::TempDir;

using PgEventLogTest = PgTest;

TEST_F(PgEventLogTest, RunsAndEventsRoundTrip) {
  RunRecord run = RealRun("run-1");
  // Every byte of the runbook is kept: its sha256 covers them.
  run.runbook_text = std::string("runbook: x\n# caf\xe9 \0 end\n", 24);
  run.runbook_sha256.clear();  // derived from the text when left out
  run.plan_id = "plan-7";
  ASSERT_TRUE(db_->events().BeginRun(run).ok());
  Status again = db_->events().BeginRun(run);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already exists"), std::string::npos) << again.message();

  AuditEvent e = MakeEvent("attempt_finished", 5, "migrate",
                           {{"exit_status", 0}, {"stdout", "ok \u2713\n"}, {"hosts", {1, 2}}});
  e.attempt = 2;
  ASSERT_TRUE(db_->events().Append("run-1", MakeEvent("run_started", 0)).ok());
  ASSERT_TRUE(db_->events().Append("run-1", e).ok());
  EXPECT_EQ(db_->events().Append("ghost", e).kind(), StatusKind::kNotFound);

  Result<std::vector<StoredRun>> running = db_->events().LastRunningRuns();
  ASSERT_TRUE(running.ok()) << running.message();
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ(running->front().runbook_text, run.runbook_text);
  ASSERT_TRUE(db_->events().EndRun("run-1", "succeeded", 0, At(90)).ok());
  EXPECT_EQ(db_->events().EndRun("ghost", "succeeded", 0, At(90)).kind(), StatusKind::kNotFound);
  EXPECT_TRUE(db_->events().LastRunningRuns()->empty());

  Result<StoredRun> got = db_->events().GetRun("run-1");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->runbook_text, run.runbook_text);
  EXPECT_EQ(got->runbook_sha256, Sha256Hex(run.runbook_text));
  EXPECT_EQ(got->params, run.params);
  EXPECT_EQ(got->operator_name, "alice");
  EXPECT_EQ(got->pid, 4242);
  EXPECT_EQ(got->plan_id, "plan-7");
  EXPECT_FALSE(got->dry_run);
  EXPECT_EQ(got->started_at, "2026-11-23T15:04:05.000Z");
  EXPECT_EQ(got->finished_at, "2026-11-23T15:04:05.090Z");
  EXPECT_EQ(got->state, "succeeded");
  EXPECT_EQ(got->exit_code, 0);
  EXPECT_EQ(db_->events().GetRun("ghost").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(db_->events().GetRun("ghost").message(), "unknown run 'ghost'");

  ASSERT_TRUE(db_->events().BeginRun(RealRun("run-2")).ok());
  Result<std::vector<StoredRun>> runs = db_->events().ListRuns();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ(runs->at(0).run_id, "run-1");  // oldest first; same start: insertion order
  EXPECT_EQ(runs->at(1).run_id, "run-2");
  EXPECT_TRUE(runs->at(0).runbook_text.empty());
  // The newest page: oldest first within it; a runbook left out before the limit.
  Result<std::vector<StoredRun>> newest = db_->events().NewestRuns(1, "");
  ASSERT_TRUE(newest.ok()) << newest.message();
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->at(0).run_id, "run-2");
  newest = db_->events().NewestRuns(5, runs->at(1).runbook);
  ASSERT_TRUE(newest.ok()) << newest.message();
  EXPECT_TRUE(newest->empty() || newest->at(0).runbook != runs->at(1).runbook);

  Result<std::vector<StoredEvent>> events = db_->events().Events("run-1");
  ASSERT_TRUE(events.ok()) << events.message();
  ASSERT_EQ(events->size(), 2u);
  const StoredEvent& stored = events->at(1);
  EXPECT_EQ(stored.seq, 2);
  EXPECT_EQ(stored.event, "attempt_finished");
  EXPECT_EQ(stored.phase, "step");
  EXPECT_EQ(stored.step, "migrate");
  EXPECT_EQ(stored.attempt, 2);
  EXPECT_EQ(stored.ts, "2026-11-23T15:04:05.005Z");
  EXPECT_EQ(stored.detail, e.detail);
  EXPECT_EQ(stored.prev_hash, events->at(0).hash);
  EXPECT_EQ(stored.hash, ChainHash(stored.prev_hash, stored));
  EXPECT_TRUE(db_->events().Events("run-2")->empty());
  EXPECT_EQ(db_->events().Events()->size(), 2u);
  EXPECT_EQ(db_->events().Backlog("run-1").journaled, 0);

  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 2);
  EXPECT_EQ(report->head_seq, 2);
  EXPECT_EQ(report->head_hash, stored.hash);
}

TEST_F(PgEventLogTest, HashesEveryEventAsTheSqliteLogDoes) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> sqlite = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(sqlite);
  auto record = [](AuditSink& sink) {
    RecordRun(sink, RealRun("r1"));
    RecordRun(sink, RealRun("r2", "api"), 100);
    // Values the canonical form has to get right: non-ASCII text, invalid UTF-8 (which
    // PostgreSQL cannot store as it is: both hash it as U+FFFD), floats, nesting, escapes.
    AuditEvent odd = MakeEvent("attempt_finished", 200, "d\xc3\xa9ploy \xff",
                               {{"stdout", "caf\xc3\xa9 \xe2\x9c\x93 \xfe\n\t\"q\""},
                                {"ratio", 0.1},
                                {"big", 9007199254740993LL},
                                {"nested", {{"z", nullptr}, {"a", {true, false, "x"}}}}});
    odd.attempt = 3;
    odd.from = "step:deploy";
    odd.to = "rollback:deploy";
    ASSERT_TRUE(sink.Append("r2", odd).ok());
  };
  record(sqlite->events());
  record(db_->events());

  Result<std::vector<StoredEvent>> lite = sqlite->events().Events();
  Result<std::vector<StoredEvent>> pg = db_->events().Events();
  ASSERT_TRUE(lite.ok() && pg.ok()) << lite.message() << pg.message();
  ASSERT_EQ(lite->size(), 13u);
  ASSERT_EQ(pg->size(), lite->size());
  for (size_t i = 0; i < lite->size(); ++i) {
    EXPECT_EQ(pg->at(i).seq, lite->at(i).seq);
    EXPECT_EQ(pg->at(i).prev_hash, lite->at(i).prev_hash) << "event " << i + 1;
    EXPECT_EQ(pg->at(i).hash, lite->at(i).hash) << "event " << i + 1;
  }
  // What `audit export` prints is the same line for line, and the same streamed a line at a
  // time.
  EXPECT_EQ(ExportJsonl(*pg), ExportJsonl(*lite));
  for (EventStore* store :
       {static_cast<EventStore*>(&sqlite->events()), static_cast<EventStore*>(&db_->events())}) {
    std::string streamed;
    Status s = store->ForEachEventRow(std::nullopt, [&](const EventRow& row) {
      AppendEventJsonLine(row, &streamed);
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(streamed, ExportJsonl(*lite));
    std::string one_run;
    ASSERT_TRUE(store
                    ->ForEachEventRow(std::string("r2"),
                                      [&](const EventRow& row) {
                                        AppendEventJsonLine(row, &one_run);
                                        return Status::Ok();
                                      })
                    .ok());
    EXPECT_EQ(one_run, ExportJsonl(*sqlite->events().Events(std::string("r2"))));
  }
  Result<VerifyReport> a = sqlite->events().Verify();
  Result<VerifyReport> b = db_->events().Verify();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->ok) << a->problem;
  EXPECT_TRUE(b->ok) << b->problem;
  EXPECT_EQ(b->head_hash, a->head_hash);
  EXPECT_EQ(b->events_checked, 13);
}

TEST_F(PgEventLogTest, ALogCopiedFromSqliteVerifiesWithItsChainIntact) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> sqlite = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(sqlite);
  RecordRun(sqlite->events(), RealRun("r1"));
  RecordRun(sqlite->events(), RealRun("r2"), 50);
  const std::vector<StoredRun> runs = *sqlite->events().ListRuns();
  for (const StoredRun& listed : runs) {
    ASSERT_TRUE(db_->events().CopyRun(*sqlite->events().GetRun(listed.run_id)).ok());
  }
  std::vector<StoredEvent> events = *sqlite->events().Events();
  // Only the next link of the chain is accepted.
  EXPECT_EQ(db_->events().CopyEvent(events[1]).kind(), StatusKind::kInvalid);
  for (const StoredEvent& e : events) ASSERT_TRUE(db_->events().CopyEvent(e).ok()) << e.seq;
  Result<VerifyReport> lite = sqlite->events().Verify();
  Result<VerifyReport> pg = db_->events().Verify();
  ASSERT_TRUE(pg.ok()) << pg.message();
  EXPECT_TRUE(pg->ok) << pg->problem;
  EXPECT_EQ(pg->head_seq, lite->head_seq);
  EXPECT_EQ(pg->head_hash, lite->head_hash);
  // The chain goes on from the copied head.
  ASSERT_TRUE(db_->events().Append("r2", MakeEvent("run_recovered", 99)).ok());
  EXPECT_TRUE(db_->events().Verify()->ok);
  EXPECT_EQ(db_->events().Events()->back().prev_hash, lite->head_hash);
}

// The same edit made to the same log in both stores is found in both, in the same words. On
// PostgreSQL the edits need a superuser who turns the append-only triggers off.
TEST_F(PgEventLogTest, VerifyFindsTheSameTamperingAsOnSqlite) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"UPDATE events SET detail = '{\"exit_status\":0}' WHERE seq = 4",
       "event 4: hash does not match its contents (edited?)"},
      {"UPDATE events SET step = 'other' WHERE seq = 3",
       "event 3: hash does not match its contents (edited?)"},
      {"UPDATE events SET ts = '2030-01-01T00:00:00.000Z' WHERE seq = 9",
       "event 9: hash does not match its contents (edited?)"},
      {"DELETE FROM events WHERE seq = 5",
       "event 6: follows event 4; event 5 is missing (deleted?)"},
      {"UPDATE events SET prev_hash = 'x' WHERE seq = 2",
       "event 2: prev_hash does not match event 1 (an event was deleted or reordered, or "
       "prev_hash was edited)"},
      {"UPDATE events SET detail = 'not json' WHERE seq = 2",
       "event 2: detail is not valid JSON (edited?)"},
      {"UPDATE events SET detail = '{\"attempts\":1,\"attempts\":2}' WHERE seq = 5",
       "event 5: detail has a key twice, which its hash cannot cover (edited?)"},
      {"DELETE FROM events WHERE seq = 12",
       "event 12: missing; the log ends at event 11 but the chain head recorded in meta is "
       "event 12 (events at the end were deleted)"},
      {"UPDATE meta SET value = '10' WHERE key = 'chain_head_seq'",
       "event 12: the chain head recorded in meta is event 10, behind the log (meta edited?)"},
      {"UPDATE runs SET operator = 'mallory' WHERE run_id = 'r2'",
       "run r2: the runs table's operator does not match its run_started (event 7; edited?)"},
      {"UPDATE runs SET state = 'succeeded' WHERE run_id = 'r1'",
       "run r1: the runs table's state 'succeeded' does not match its run_finished "
       "('rolled_back'; edited?)"},
  };
  for (const auto& [sql, problem] : edits) {
    SCOPED_TRACE(sql);
    TempDir dir;
    const std::string path = dir.File("audit.db");
    std::unique_ptr<AuditDatabase> sqlite = OpenOrDie(path);
    const std::string url = server_->NewDatabase();
    std::unique_ptr<PgAuditDatabase> pg = OpenPgOrDie(url);
    ASSERT_TRUE(sqlite && pg);
    for (AuditSink* sink :
         {static_cast<AuditSink*>(&sqlite->events()), static_cast<AuditSink*>(&pg->events())}) {
      RecordRun(*sink, RealRun("r1"));
      RecordRun(*sink, RealRun("r2"), 50);
    }
    ASSERT_TRUE(pg->events().Verify()->ok);
    audit_test::Sql(path, sql);
    std::string error = server_->Sql(url, audit_test::kTriggersOff + sql);
    ASSERT_TRUE(error.empty()) << error;

    Result<VerifyReport> lite = sqlite->events().Verify();
    Result<VerifyReport> report = pg->events().Verify();
    ASSERT_TRUE(report.ok()) << report.message();
    EXPECT_FALSE(report->ok);
    EXPECT_EQ(report->problem, problem);
    EXPECT_EQ(report->problem, lite->problem);
    EXPECT_EQ(report->bad_seq, lite->bad_seq);
    EXPECT_EQ(report->events_checked, lite->events_checked);
  }
}

// PostgreSQL's rows take the same fast path as SQLite's: a detail not stored canonically still
// verifies, through the exact path, and a hash forged over a stored text that the exact path
// refuses is still refused.
TEST_F(PgEventLogTest, VerifyTakesTheExactPathForWhatIsNotStoredCanonically) {
  RecordRun(db_->events(), RealRun("r1"));
  StoredEvent e = db_->events().Events()->at(3);  // step_failed
  Tamper(R"(UPDATE events SET detail = '{"name": "migrate", "action": "shell"}' WHERE seq = 2)");
  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;

  const std::string detail = R"({"attempts":1,"attempts":1,"error":"exit status 1"})";
  e.detail = "@detail@";
  std::string text = CanonicalEvent(e);
  text.replace(text.find("\"@detail@\""), 10, detail);
  Tamper("UPDATE events SET detail = '" + detail + "', hash = '" + Sha256Hex(e.prev_hash + text) +
         "' WHERE seq = 4");
  report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->problem,
            "event 4: detail has a key twice, which its hash cannot cover (edited?)");
}

// Export reads the log in batches: every event once, in order, across the batches' seams; and
// an error of the reader stops it.
TEST_F(PgEventLogTest, ForEachEventRowVisitsEveryEventOnceAcrossBatches) {
  RecordRun(db_->events(), RealRun("r1"));
  // Rows enough for three batches, written straight into the table (their hashes do not
  // matter here).
  Tamper(
      "INSERT INTO events(seq, run_id, ts, event, phase, step, from_state, to_state, attempt, "
      "detail, prev_hash, hash) SELECT s, 'r1', '2026-11-23T15:04:05.000Z', 'step_started', "
      "'step', 'x', '', '', 0, '{\"n\":' || s || '}', 'p' || s, 'h' || s "
      "FROM generate_series(7, 4500) AS s");
  int64_t last = 0, count = 0;
  Status s = db_->events().ForEachEventRow(std::nullopt, [&](const EventRow& row) {
    if (row.seq != last + 1)
      return Status::Error("event " + std::to_string(row.seq) + " after " + std::to_string(last));
    last = row.seq;
    ++count;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(count, 4500);
  count = 0;
  s = db_->events().ForEachEventRow(std::string("r1"), [&](const EventRow&) {
    return ++count == 2500 ? Status::Invalid("enough") : Status::Ok();
  });
  EXPECT_EQ(s.kind(), StatusKind::kInvalid);
  EXPECT_EQ(count, 2500);
}

TEST_F(PgEventLogTest, EventsOfKindsOfSomeRunsReadsOnlyThoseRuns) {
  RecordRun(db_->events(), RealRun("r1"));
  RecordRun(db_->events(), RealRun("r2", "api"), 100);
  using Runs = std::optional<std::vector<std::string>>;
  Result<std::vector<StoredEvent>> all = db_->events().EventsOfKinds({EventKind::kRunStarted});
  ASSERT_TRUE(all.ok()) << all.message();
  ASSERT_EQ(all->size(), 2u);
  Result<std::vector<StoredEvent>> r2 =
      db_->events().EventsOfKinds({EventKind::kRunStarted}, Runs({"r2", "ghost"}));
  ASSERT_TRUE(r2.ok()) << r2.message();
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ(r2->front().run_id, "r2");
  EXPECT_TRUE(db_->events()
                  .EventsOfKinds({EventKind::kRunStarted}, Runs(std::vector<std::string>{}))
                  ->empty());
  std::vector<std::string> many(1200, "ghost");
  many[3] = "r2";
  many[1150] = "r1";
  Result<std::vector<StoredEvent>> both =
      db_->events().EventsOfKinds({EventKind::kRunStarted}, Runs(many));
  ASSERT_TRUE(both.ok()) << both.message();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ(both->at(0).run_id, "r1");  // seq order across the parts
  EXPECT_EQ(both->at(1).run_id, "r2");
}

TEST_F(PgEventLogTest, TheOwnersNextOpenAddsTheRunsIndexesToAStoreMadeBeforeThem) {
  const std::string count =
      "SELECT count(*) FROM pg_indexes WHERE indexname IN ('runs_by_start', 'runs_by_plan')";
  EXPECT_EQ(SqlValue(count), "2");
  Sql("DROP INDEX runs_by_start; DROP INDEX runs_by_plan");
  EXPECT_EQ(SqlValue(count), "0");
  std::unique_ptr<PgAuditDatabase> again = OpenPgOrDie(url_);
  ASSERT_TRUE(again);
  EXPECT_EQ(SqlValue(count), "2");
  RunRecord planned = RealRun("run-p");
  planned.plan_id = "plan-9";
  RecordRun(again->events(), planned);
  RecordRun(again->events(), RealRun("run-q"));
  Result<std::vector<StoredRun>> of_plan = again->events().RunsOfPlan("plan-9");
  ASSERT_TRUE(of_plan.ok()) << of_plan.message();
  ASSERT_EQ(of_plan->size(), 1u);
  EXPECT_EQ(of_plan->front().run_id, "run-p");
  EXPECT_TRUE(again->events().RunsOfPlan("plan-none")->empty());
}

// Appends by several threads (each with a connection of its own) and several processes at
// once: one chain, no gaps, no fork, each run's events in the order its writer wrote them.
TEST_F(PgEventLogTest, ConcurrentWritersOnSeveralConnectionsKeepOneLinearChain) {
  constexpr int kThreads = 4;
  constexpr int kProcesses = 3;
  constexpr int kEach = 60;
  auto append_run = [&](PgAuditDatabase& db, const std::string& run_id) -> bool {
    if (!db.events().BeginRun(RealRun(run_id)).ok()) return false;
    for (int i = 1; i <= kEach; ++i) {
      AuditEvent e = MakeEvent("attempt_started", i, "step");
      e.attempt = i;  // the writer's own order
      if (Status s = db.events().Append(run_id, e); !s.ok()) {
        std::fprintf(stderr, "%s: %s\n", run_id.c_str(), s.message().c_str());
        return false;
      }
    }
    return true;
  };

  // The processes wait on a pipe so that they start with the threads.
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t child = fork();
    if (child == 0) {
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) != 1) _exit(2);
      Result<std::unique_ptr<PgAuditDatabase>> own = PgAuditDatabase::Open(url_);
      // _exit: no destructor of the parent's objects may run here (the shared server's).
      _exit(own.ok() && append_run(**own, "proc-" + std::to_string(p)) ? 0 : 1);
    }
    children.push_back(child);
  }
  close(go[0]);
  std::vector<std::unique_ptr<PgAuditDatabase>> dbs;
  for (int t = 0; t < kThreads; ++t) {
    dbs.push_back(OpenPgOrDie(url_));
    ASSERT_TRUE(dbs.back());
  }
  std::atomic<int> ok_threads{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (append_run(*dbs[t], "thread-" + std::to_string(t))) ++ok_threads;
    });
  }
  ASSERT_EQ(write(go[1], "gogo", kProcesses), kProcesses);
  close(go[1]);
  for (std::thread& t : threads) t.join();
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "process " << child;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok_threads.load(), kThreads);
  const int total = (kThreads + kProcesses) * kEach;
  std::printf("[ measured ] %d appends from %d threads and %d processes in %.2f s (%.0f/s)\n",
              total, kThreads, kProcesses, seconds, total / seconds);

  Result<std::vector<StoredEvent>> events = db_->events().Events();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(static_cast<int>(events->size()), total);
  std::map<std::string, int> last_attempt;
  std::string prev_hash(kGenesisHash);
  bool interleaved = false;
  for (size_t i = 0; i < events->size(); ++i) {
    const StoredEvent& e = events->at(i);
    ASSERT_EQ(e.seq, static_cast<int64_t>(i + 1));
    ASSERT_EQ(e.prev_hash, prev_hash) << "the chain forks at event " << e.seq;
    prev_hash = e.hash;
    EXPECT_EQ(e.attempt, last_attempt[e.run_id] + 1) << e.run_id << " out of order";
    last_attempt[e.run_id] = e.attempt;
    if (i > 0 && e.run_id != events->at(i - 1).run_id) interleaved = true;
  }
  EXPECT_TRUE(interleaved) << "the writers did not overlap: the test proves nothing";
  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, total);
}

TEST_F(PgEventLogTest, ALostConnectionIsMadeAgainAndTheChainGoesOn) {
  RecordRun(db_->events(), RealRun("r1"));
  ASSERT_TRUE(db_->events().BeginRun(RealRun("r2")).ok());
  // An administrator (or a restarted proxy) ends every session of this database.
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid()");
  Status s = db_->events().Append("r2", MakeEvent("run_started", 100));
  ASSERT_TRUE(s.ok()) << s.message();
  Result<VerifyReport> report = db_->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 7);
}

TEST_F(PgEventLogTest, ALockedTableIsBusyNeverTampered) {
  RecordRun(db_->events(), RealRun("r1"));
  PgStoreOptions quick;
  quick.busy_timeout = std::chrono::milliseconds(200);
  std::unique_ptr<PgAuditDatabase> db = OpenPgOrDie(url_, quick);
  ASSERT_TRUE(db);
  Result<std::unique_ptr<PgConnection>> holder = PgConnection::Connect(url_);
  ASSERT_TRUE(holder.ok()) << holder.message();
  ASSERT_TRUE((*holder)->ExecScript("BEGIN; LOCK TABLE meta IN ACCESS EXCLUSIVE MODE").ok());
  Status append = db->events().Append("r1", MakeEvent("run_recovered", 50));
  EXPECT_EQ(append.kind(), StatusKind::kBusy) << append.message();
  EXPECT_NE(append.message().find("locked by another session"), std::string::npos)
      << append.message();
  Result<VerifyReport> report = db->events().Verify();
  EXPECT_EQ(report.status().kind(), StatusKind::kBusy) << report.message();
  holder->reset();  // the holder's session ends, and its lock with it
  EXPECT_TRUE(db->events().Append("r1", MakeEvent("run_recovered", 50)).ok());
  EXPECT_TRUE(db->events().Verify()->ok);
}

TEST_F(PgEventLogTest, ADeletedChainHeadIsPutBackAndNoSeqIsReused) {
  RecordRun(db_->events(), RealRun("r1"));
  Sql("DELETE FROM meta WHERE key LIKE 'chain_head_%'");
  ASSERT_TRUE(db_->events().Append("r1", MakeEvent("run_recovered", 50)).ok());
  std::vector<StoredEvent> events = *db_->events().Events();
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events.back().seq, 7);
  EXPECT_EQ(events.back().prev_hash, events[5].hash);
}

}  // namespace
}  // namespace runbook
