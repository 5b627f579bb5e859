// Helpers for the tests of the PostgreSQL store: a fresh database on the shared test server
// for each test (testing/postgres_fixture.h), the store opened on it, and a run recorded the
// way the executor records one, so that `audit verify` has a run_started to hold the runs
// table to.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "audit/audit_test_util.h"
#include "audit/hash_chain.h"
#include "audit/pg_connection.h"
#include "audit/pg_store.h"
#include "testing/postgres_fixture.h"

namespace runbook::audit_test {

/// What a superuser's session starts with to edit what the append-only triggers guard:
/// triggers fire only for sessions in the "origin" role (a superuser's setting).
inline const std::string kTriggersOff = "SET session_replication_role = replica; ";

/// The store on `url`; null, with a test failure, when it cannot be opened.
inline std::unique_ptr<PgAuditDatabase> OpenPgOrDie(const std::string& url,
                                                    const PgStoreOptions& options = {}) {
  Result<std::unique_ptr<PgAuditDatabase>> db = PgAuditDatabase::Open(url, options);
  EXPECT_TRUE(db.ok()) << db.message();
  return db.ok() ? std::move(db).value() : nullptr;
}

/// A test with a new, empty database of its own on the shared server (url_), opened (db_).
/// A server that cannot start fails the test with the reason: nothing is skipped.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &testing::PostgresServer::Shared();
    ASSERT_TRUE(server_->ok()) << "cannot start a PostgreSQL server: " << server_->error();
    url_ = server_->NewDatabase();
    ASSERT_FALSE(url_.empty()) << server_->error();
    db_ = OpenPgOrDie(url_);
    ASSERT_TRUE(db_);
  }

  /// Runs `sql` on this test's database as the superuser (an administrator with psql, say).
  /// The append-only triggers (pg_append_only.h) hold for the superuser too: edits of events,
  /// runs, plans or approvals go through Tamper.
  void Sql(const std::string& sql) {
    std::string error = server_->Sql(url_, sql);
    ASSERT_TRUE(error.empty()) << error;
  }
  /// Runs `sql` as a tamperer with the rights to rewrite history: the superuser, with the
  /// append-only triggers off for the session. `audit verify` must find what it does.
  void Tamper(const std::string& sql) { Sql(kTriggersOff + sql); }
  std::string SqlValue(const std::string& sql) { return server_->Value(url_, sql); }

  testing::PostgresServer* server_ = nullptr;
  std::string url_;
  std::unique_ptr<PgAuditDatabase> db_;
};

/// The run_started detail the executor writes for `run`: what verify holds the row to.
inline nlohmann::json RunStartedDetail(const RunRecord& run) {
  return {{"runbook", run.runbook},
          {"operator", run.operator_name},
          {"host", run.host},
          {"pid", run.pid},
          {"dry_run", run.dry_run},
          {"params", run.params},
          {"plan_id", run.plan_id},
          {"lock", run.lock_key},
          {"runbook_sha256", Sha256Hex(run.runbook_text)}};
}

/// `run` with its runbook_sha256 matching its text, as the executor records it.
inline RunRecord RealRun(const std::string& run_id, const std::string& runbook = "web-release") {
  RunRecord r = MakeRun(run_id, runbook);
  r.runbook_sha256 = Sha256Hex(r.runbook_text);
  return r;
}

/// Records a small run in `sink` as the executor would: run row, run_started, a step that
/// fails and is rolled back, run_finished, the end of the row. `ms` offsets its times.
inline void RecordRun(AuditSink& sink, const RunRecord& run, long long ms = 0) {
  ASSERT_TRUE(sink.BeginRun(run).ok());
  AuditEvent started = MakeEvent("run_started", ms, "", RunStartedDetail(run));
  started.to = "pending";
  ASSERT_TRUE(sink.Append(run.run_id, started).ok());
  ASSERT_TRUE(sink.Append(run.run_id, MakeEvent("step_started", ms + 1, "migrate",
                                                {{"action", "shell"}, {"name", "migrate"}}))
                  .ok());
  AuditEvent attempt = MakeEvent("attempt_finished", ms + 2, "migrate",
                                 {{"exit_status", 1}, {"stderr", "boom\n"}, {"duration_ms", 12}});
  attempt.attempt = 1;
  ASSERT_TRUE(sink.Append(run.run_id, attempt).ok());
  ASSERT_TRUE(sink.Append(run.run_id, MakeEvent("step_failed", ms + 3, "migrate",
                                                {{"attempts", 1}, {"error", "exit status 1"}}))
                  .ok());
  AuditEvent rollback = MakeEvent("rollback_succeeded", ms + 4, "migrate", {{"attempts", 1}});
  rollback.phase = "rollback";
  ASSERT_TRUE(sink.Append(run.run_id, rollback).ok());
  AuditEvent finished = MakeEvent("run_finished", ms + 5, "", {{"state", "rolled_back"}});
  finished.to = "rolled_back";
  ASSERT_TRUE(sink.Append(run.run_id, finished).ok());
  ASSERT_TRUE(sink.EndRun(run.run_id, "rolled_back", 1, At(ms + 6)).ok());
}

}  // namespace runbook::audit_test
