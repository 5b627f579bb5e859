// The floor under `runbook run` of STEPS local `true` steps (bench/local_steps.py,
// docs/performance.md): what any tool must at least do to run them with a durable record of
// each. For each step it starts `/bin/sh -c true` (posix_spawn, then waitpid), and makes the
// step's share of COMMITS durable SQLite commits, each one INSERT of a small row in its own
// transaction, into a fresh database in WAL mode with synchronous=FULL (as the audit log is
// opened): one fdatasync of the WAL each. COMMITS is fractional (commits per step as strace
// counted them for runbook); step i makes floor((i+1)*C) - floor(i*C) of them. The database
// goes where runbook's audit database went, so both sync on the same file system.
//
//   local_steps_floor --db PATH --steps N --commits-per-step C
//
// Prints one JSON object: wall seconds in all, and the part of it spent spawning and committing.
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) == SQLITE_OK) return true;
  std::fprintf(stderr, "local_steps_floor: %s: %s\n", sql, error != nullptr ? error : "?");
  sqlite3_free(error);
  return false;
}

bool SpawnTrue() {
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), const_cast<char*>("true"),
                  nullptr};
  pid_t pid = -1;
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) return false;
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"sh -c true per step plus a bare SQLite loop's durable commits"};
  std::string path;
  int steps = 100;
  double per_step = 2;
  app.add_option("--db", path, "the SQLite file to create")->required();
  app.add_option("--steps", steps, "how many steps")->check(CLI::PositiveNumber);
  app.add_option("--commits-per-step", per_step, "durable commits per step (may be fractional)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "local_steps_floor: cannot open %s\n", path.c_str());
    return 1;
  }
  if (!Exec(db, "PRAGMA journal_mode=WAL") || !Exec(db, "PRAGMA synchronous=FULL") ||
      !Exec(db, "CREATE TABLE events (id INTEGER PRIMARY KEY, step INTEGER, detail TEXT)")) {
    return 1;
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO events (step, detail) VALUES (?, ?)", -1, &insert,
                         nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "local_steps_floor: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  static const char kDetail[] = R"({"step":"s","status":"ok","exit_code":0})";

  Clock::duration spawning{0}, committing{0};
  long commits = 0;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < steps; ++i) {
    const long due = static_cast<long>(std::floor((i + 1) * per_step)) -
                     static_cast<long>(std::floor(i * per_step));
    const Clock::time_point before_commits = Clock::now();
    for (long c = 0; c < due; ++c) {
      sqlite3_bind_int(insert, 1, i);
      sqlite3_bind_text(insert, 2, kDetail, sizeof kDetail - 1, SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) {  // autocommit: one durable transaction
        std::fprintf(stderr, "local_steps_floor: insert: %s\n", sqlite3_errmsg(db));
        return 1;
      }
      sqlite3_reset(insert);
      ++commits;
    }
    const Clock::time_point before_spawn = Clock::now();
    committing += before_spawn - before_commits;
    if (!SpawnTrue()) {
      std::fprintf(stderr, "local_steps_floor: /bin/sh -c true failed\n");
      return 1;
    }
    spawning += Clock::now() - before_spawn;
  }
  const double wall = Seconds(Clock::now() - start);
  sqlite3_finalize(insert);
  sqlite3_close(db);

  nlohmann::json out = {{"steps", steps},
                        {"commits", commits},
                        {"wall_s", wall},
                        {"spawn_s", Seconds(spawning)},
                        {"commit_s", Seconds(committing)}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
