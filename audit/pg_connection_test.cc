#include "audit/pg_connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "audit/hash_chain.h"
#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::MakeEvent;
using audit_test::OpenPgOrDie;
using audit_test::PgTest;
using audit_test::RealRun;
using audit_test::RecordRun;

TEST(PgUrlTest, PasswordsAreDroppedFromEveryShownUrl) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://bo:s3cret@db.example:5432/audit"),
            "postgresql://bo@db.example:5432/audit");
  EXPECT_EQ(RedactPostgresUrl("postgres://bo:p%40ss@db/audit?sslmode=require"),
            "postgres://bo@db/audit?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db/audit?password=s3cret&sslmode=verify-full"),
            "postgresql://db/audit?sslmode=verify-full");
  EXPECT_EQ(RedactPostgresUrl("postgresql://bo@db/audit?sslmode=require&password=s3cret"),
            "postgresql://bo@db/audit?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql://bo:s3cret@/audit?host=/run/pg"),
            "postgresql://bo@/audit?host=/run/pg");
  EXPECT_EQ(RedactPostgresUrl("postgresql://bo:pa?ss@db/audit"), "postgresql://bo@db/audit");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db"), "postgresql://db");
  EXPECT_TRUE(IsPostgresUrl("postgresql://db/audit"));
  EXPECT_TRUE(IsPostgresUrl("postgres://db/audit"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/runbook/audit.db"));
  EXPECT_FALSE(IsPostgresUrl("host=db dbname=audit"));
}

TEST(PgUrlTest, InvalidUtf8IsReplacedAsTheHashChainReplacesIt) {
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80"),
            "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80");
  for (const std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "x\xf4\x90\x80\x80y",
                                "\xe2\x9c", "ok\xfe\xfeok"}) {
    const std::string fixed = ValidUtf8(bad);
    EXPECT_NE(fixed, bad);
    EXPECT_EQ(ValidUtf8(fixed), fixed);
    // The canonical JSON, and so every hash, is the same before and after.
    EXPECT_EQ(CanonicalJson(nlohmann::json(fixed)), CanonicalJson(nlohmann::json(bad)));
  }
}

using PgConnectionTest = PgTest;

TEST_F(PgConnectionTest, EverySessionCommitsDurably) {
  // The test server runs with synchronous_commit=off; the store's sessions turn it on.
  EXPECT_EQ(SqlValue("SHOW synchronous_commit"), "off");
  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(url_);
  ASSERT_TRUE(conn.ok()) << conn.message();
  EXPECT_EQ((*conn)->Exec("SHOW synchronous_commit")->Text(0, 0), "on");
  EXPECT_EQ((*conn)->Exec("SHOW TimeZone")->Text(0, 0), "UTC");
  EXPECT_EQ((*conn)->Exec("SHOW lock_timeout")->Text(0, 0), "10s");
  EXPECT_EQ((*conn)->url(), url_);
}

TEST_F(PgConnectionTest, APasswordInTheUrlIsUsedButNeverShown) {
  const std::string host_part = "@127.0.0.1:" + std::to_string(server_->port()) + "/";
  const std::string db = url_.substr(url_.rfind('/') + 1);
  const std::string with_password =
      "postgresql://" + server_->role() + ":" + server_->password() + host_part + db;
  std::unique_ptr<PgAuditDatabase> opened = OpenPgOrDie(with_password);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->url(), url_);

  // A wrong one wins over the password file (libpq's order) and fails, without showing it.
  const std::string wrong = "postgresql://" + server_->role() + ":Wr0ngPassw0rd" + host_part + db;
  Result<std::unique_ptr<PgAuditDatabase>> refused = PgAuditDatabase::Open(wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message().find("Wr0ngPassw0rd"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("cannot connect to audit database " + url_ + ": "),
            std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("password authentication failed"), std::string::npos)
      << refused.message();
  Result<std::unique_ptr<PgAuditDatabase>> query_form =
      PgAuditDatabase::Open(url_ + "?password=Wr0ngPassw0rd&application_name=x");
  ASSERT_FALSE(query_form.ok());
  EXPECT_EQ(query_form.message().find("Wr0ngPassw0rd"), std::string::npos) << query_form.message();
}

TEST_F(PgConnectionTest, ErrorsSayWhatKindTheyAre) {
  Result<std::unique_ptr<PgConnection>> not_url = PgConnection::Connect("/tmp/audit.db");
  EXPECT_EQ(not_url.status().kind(), StatusKind::kInvalid);

  // Nothing listens there: the store cannot be reached.
  const std::string nowhere = "postgresql://" + server_->role() + ":hunter2@127.0.0.1:1/x";
  Result<std::unique_ptr<PgConnection>> refused = PgConnection::Connect(nowhere);
  EXPECT_EQ(refused.status().kind(), StatusKind::kIOError) << refused.message();
  EXPECT_NE(refused.message().find("postgresql://" + server_->role() + "@127.0.0.1:1/x: "),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(refused.message().find("hunter2"), std::string::npos);
  EXPECT_EQ(refused.message().find('\n'), std::string::npos) << refused.message();

  Result<std::unique_ptr<PgConnection>> no_db =
      PgConnection::Connect(url_.substr(0, url_.rfind('/')) + "/no_such_db");
  EXPECT_EQ(no_db.status().kind(), StatusKind::kFailed) << no_db.message();

  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(url_);
  ASSERT_TRUE(conn.ok());
  Result<PgRows> nul = (*conn)->Exec("SELECT $1::text", {std::string("a\0b", 3)});
  EXPECT_EQ(nul.status().kind(), StatusKind::kInvalid) << nul.message();
  Result<PgRows> taken = (*conn)->Exec("INSERT INTO meta(key, value) VALUES('created_at', 'x')");
  EXPECT_EQ(taken.status().kind(), StatusKind::kFailed);
  EXPECT_EQ((*conn)->last_sqlstate(), "23505");
  EXPECT_NE(taken.message().find("audit database " + url_ + ": INSERT INTO meta"),
            std::string::npos)
      << taken.message();
  EXPECT_EQ((*conn)->Exec("SELECT 1/0").status().kind(), StatusKind::kInvalid);

  // A transaction whose body fails is rolled back; the error is the body's.
  Status s = (*conn)->Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    if (Status i = (*conn)->Exec("INSERT INTO meta(key, value) VALUES('t', '1')").status();
        !i.ok()) {
      return i;
    }
    return Status::NotFound("changed my mind");
  });
  EXPECT_EQ(s.kind(), StatusKind::kNotFound);
  EXPECT_EQ(SqlValue("SELECT count(*) FROM meta WHERE key = 't'"), "0");
}

TEST_F(PgConnectionTest, ABodyThatIgnoresAnErrorDoesNotCommit) {
  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(url_);
  ASSERT_TRUE(conn.ok());
  Status s = (*conn)->Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    (void)(*conn)->Exec("INSERT INTO meta(key, value) VALUES('t', '1')");
    (void)(*conn)->Exec("SELECT no_such_column FROM meta");
    return Status::Ok();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rolled back"), std::string::npos) << s.message();
  EXPECT_EQ(SqlValue("SELECT count(*) FROM meta WHERE key = 't'"), "0");
}

TEST_F(PgConnectionTest, OpenCreatesTheSchemaOnceAndChecksItsVersion) {
  RecordRun(db_->events(), RealRun("r1"));
  db_.reset();
  db_ = OpenPgOrDie(url_);  // a second open keeps what is there
  ASSERT_TRUE(db_);
  EXPECT_EQ(db_->events().Events()->size(), 6u);
  EXPECT_EQ(SqlValue("SELECT value FROM meta WHERE key = 'schema_version'"), "1");

  Sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  Result<std::unique_ptr<PgAuditDatabase>> newer = PgAuditDatabase::Open(url_);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.message(),
            "audit database " + url_ + " has schema version 99; this runbook understands 1");

  const std::string other = server_->NewDatabase();
  ASSERT_TRUE(server_->Sql(other, "CREATE TABLE runs (x int)").empty());
  Result<std::unique_ptr<PgAuditDatabase>> foreign = PgAuditDatabase::Open(other);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.message().find("not a runbook audit log"), std::string::npos)
      << foreign.message();
}

TEST_F(PgConnectionTest, CommandsStartedTogetherOnANewDatabaseAllOpenIt) {
  const std::string fresh = server_->NewDatabase();
  constexpr int kOpeners = 6;
  std::atomic<int> opened{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> openers;
  for (int i = 0; i < kOpeners; ++i) {
    openers.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      Result<std::unique_ptr<PgAuditDatabase>> db = PgAuditDatabase::Open(fresh);
      if (!db.ok()) {
        ADD_FAILURE() << db.message();
        return;
      }
      const std::string run = "r" + std::to_string(i);
      if ((*db)->events().BeginRun(RealRun(run)).ok() &&
          (*db)->events().Append(run, MakeEvent("run_started", i)).ok()) {
        ++opened;
      }
    });
  }
  go = true;
  for (std::thread& t : openers) t.join();
  EXPECT_EQ(opened.load(), kOpeners);
  EXPECT_EQ(server_->Value(fresh, "SELECT count(*) FROM meta WHERE key = 'schema_version'"), "1");
  // The append-only triggers were made once too (pg_append_only.h).
  EXPECT_EQ(server_->Value(fresh, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'runbook_%'"),
            "8");
  EXPECT_TRUE(OpenPgOrDie(fresh)->events().Verify()->ok);
}

}  // namespace
}  // namespace runbook
