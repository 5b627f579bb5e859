// How fast the audit log is verified and exported (docs/performance.md; issue 14): `audit
// verify`, `replay --verify` and `audit export` of a log of N events, against a floor that
// reads the same rows and hashes each once.
//
//   verify_bench --runbook BUILD/runbook --events 10000 --events 100000 [--repeat 3] [--json]
//
// The log: `runbook run` runs a small runbook of local shell steps once (the real executor
// writes a real run), and that run is copied until the log holds N events, each copy a run of
// its own with its runs row, each event linked into the chain with the project's own
// hash-chain code (ChainHash, CanonicalJson: what AppendToChain does, without preparing its
// statements again for every event). One transaction with synchronous=OFF: the writing is not
// what is measured. Every copy replays as the original does, so `replay --verify` of any of
// them re-derives its transitions.
//
// For each N, after one untimed pass that brings the file into the page cache, each of these
// is measured `repeat` times, interleaved, and the fastest kept (on a machine that others use
// too, the one least disturbed):
//   floor        the SELECT verify runs, over the same file, with each row's columns hashed
//                once with SHA-256 (the digest fetched once, one context reused) and the hash
//                compared: what any verification of these rows must at least do;
//   verify       EventStore::Verify through the library, as `audit verify` calls it;
//   quick_check  PRAGMA quick_check alone, verify's first check (it runs beside the scan);
// the CPU time of floor and verify besides their wall time; once, `exact`: every row through
// the exact path (parsed, rebuilt, serialized, hashed), what verify did for every event before
// the fast path; and the built binary as a child process (wall time and peak RSS, measured by
// peak_rss): `audit verify`, `replay RUN --verify` (the whole chain and one run) and `audit
// export` (stdout to a file).
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_database.h"
#include "audit/event_row.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {
namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  std::string runbook;  // the built binary
  std::vector<int64_t> sizes;
  int repeat = 3;
  int steps = 20;   // steps of the runbook whose run is copied
  std::string dir;  // where the logs go; a fresh temporary folder when empty
  bool keep = false;
  bool json = false;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

/// CPU time of this process so far (user and system), in seconds.
double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// The load averages over 1, 5 and 15 minutes: how busy the machine was.
std::string LoadAverage() {
  std::string one, five, fifteen;
  std::ifstream("/proc/loadavg") >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

/// The fastest of several measurements: the one a busy machine disturbed least.
double Best(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "verify_bench: error: %s\n", what.c_str());
  std::exit(2);
}

// ------------------------------------------------------------------------------ processes

struct ChildResult {
  int code = -1;
  double wall_s = 0;
  long max_rss_kb = 0;
};

/// Runs `argv` in `cwd` with RUNBOOK_AUDIT_DB=`audit_db`, stdin from /dev/null, stdout to
/// `out` and stderr to `err`, through build/bench/peak_rss (beside this program), which
/// measures its wall time and peak RSS. Not from here: a child forked by this process starts
/// with this process's peak RSS as its own (exec keeps the larger), and in this process's
/// place its first run after the in-process passes took some 0.15 s longer every time, a run
/// started by a small process did not.
ChildResult RunChild(const std::vector<std::string>& argv, const std::string& cwd,
                     const std::string& audit_db, const std::string& out, const std::string& err) {
  static const std::string peak_rss =
      (fs::read_symlink("/proc/self/exe").parent_path() / "peak_rss").string();
  const std::string measured = (fs::path(cwd) / "child.json").string();
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    const int in_fd = open("/dev/null", O_RDONLY);
    const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(127);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    setenv("RUNBOOK_AUDIT_DB", audit_db.c_str(), 1);
    setenv("NO_COLOR", "1", 1);
    std::vector<char*> args{const_cast<char*>(peak_rss.c_str()),
                            const_cast<char*>(measured.c_str())};
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) Die("waitpid failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    Die(peak_rss + " failed (built? cmake --build build --target peak_rss): see " + err);
  std::ifstream in(measured);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) Die(peak_rss + " wrote no result to " + measured);
  ChildResult r;
  r.wall_s = j.value("wall_s", 0.0);
  r.max_rss_kb = j.value("maxrss_kb", 0L);
  r.code = j.value("exit", -1);
  return r;
}

// ------------------------------------------------------------------------------- the log

/// One real run, read back from the log `runbook run` wrote: what the log is made of.
struct TemplateRun {
  StoredRun run;
  std::vector<StoredEvent> events;
};

/// A runbook of `steps` local shell steps, each printing a few lines (one with a character
/// beyond ASCII, as real output has), with a rollback each.
std::string TemplateRunbook(int steps) {
  std::string text =
      "runbook: checkout-api-release\nparams:\n  version: {default: 2026.11.23}\n"
      "steps:\n";
  for (int i = 1; i <= steps; ++i) {
    const std::string n = std::to_string(i);
    text += "  - id: batch-" + n + "\n";
    text +=
        "    shell: \"printf 'checkout-api: %s/12 pods updated to %s\\\\n' 6 {{ params.version }} "
        "12 {{ params.version }}; echo 'batch " +
        n + " is live → eu-west-1'\"\n";
    text += "    rollback: {shell: \"echo 'rolled back batch " + n + "'\"}\n";
  }
  return text;
}

TemplateRun MakeTemplate(const BenchOptions& options, const fs::path& dir) {
  const fs::path seed = dir / "seed.db";
  for (const char* suffix : {"", "-wal", "-shm", ".pending"}) fs::remove(seed.string() + suffix);
  std::ofstream(dir / "release.yaml") << TemplateRunbook(options.steps);
  ChildResult r = RunChild({options.runbook, "run", "release.yaml", "--as", "bench"}, dir,
                           seed.string(), (dir / "seed.out").string(), (dir / "seed.err").string());
  if (r.code != 0) Die("`runbook run` of the template runbook failed: see " + dir.string());
  auto db = AuditDatabase::Open(seed.string());
  if (!db.ok()) Die(db.message());
  auto runs = (*db)->events().ListRuns();
  if (!runs.ok() || runs->size() != 1) Die("the template log does not hold one run");
  TemplateRun t;
  auto run = (*db)->events().GetRun(runs->front().run_id);
  auto events = (*db)->events().Events(runs->front().run_id);
  if (!run.ok() || !events.ok()) Die("cannot read the template run");
  t.run = std::move(*run);
  t.events = std::move(*events);
  return t;
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.message());
}

/// One prepared statement, run again and again with new values (the bulk insert of WriteLog).
class BulkInsert {
 public:
  BulkInsert(SqliteDb& db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle(), sql, -1, &stmt_, nullptr) != SQLITE_OK)
      Die(sqlite3_errmsg(db.handle()));
  }
  ~BulkInsert() { sqlite3_finalize(stmt_); }
  BulkInsert(const BulkInsert&) = delete;
  BulkInsert& operator=(const BulkInsert&) = delete;

  void Text(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void TextOrNull(int i, std::string_view text) {
    if (text.empty()) {
      sqlite3_bind_null(stmt_, i);
    } else {
      Text(i, text);
    }
  }
  void Int(int i, int64_t value) { sqlite3_bind_int64(stmt_, i, value); }
  void Run() {
    if (sqlite3_step(stmt_) != SQLITE_DONE) Die(sqlite3_errmsg(db_.handle()));
    sqlite3_reset(stmt_);
  }

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Writes a log of `n` events at `path`: copies of `t`, the last one cut short, each event
/// linked to the chain by ChainHash and its detail stored as CanonicalJson, as AppendToChain
/// does, and the chain head recorded in meta. Returns the id of the first copy.
std::string WriteLog(const TemplateRun& t, int64_t n, const std::string& path) {
  {
    // The schema, as every command creates it.
    auto created = AuditDatabase::Open(path);
    if (!created.ok()) Die(created.message());
  }
  auto db = SqliteDb::Open(path);
  if (!db.ok()) Die(db.message());
  SqliteDb& sql = **db;
  Check(sql.Exec("PRAGMA synchronous=OFF"), "pragma");
  Transaction tx(sql);
  Check(tx.status(), "begin");
  BulkInsert run_row(sql,
                     "INSERT INTO runs(run_id, runbook, runbook_path, runbook_text, "
                     "runbook_sha256, params, operator, host, pid, lock_key, plan_id, dry_run, "
                     "started_at, finished_at, state, exit_code) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  BulkInsert event_row(sql,
                       "INSERT INTO events(seq, run_id, ts, event, phase, step, from_state, "
                       "to_state, attempt, detail, prev_hash, hash) "
                       "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  std::vector<std::string> details;
  for (const StoredEvent& e : t.events) details.push_back(CanonicalJson(e.detail));
  const StoredRun& r = t.run;
  std::string prev_hash(kGenesisHash), first;
  int64_t seq = 0;
  for (int copy = 1; seq < n; ++copy) {
    char id[32];
    std::snprintf(id, sizeof id, "bench-%07d", copy);
    if (first.empty()) first = id;
    run_row.Text(1, id);
    run_row.Text(2, r.runbook);
    run_row.Text(3, r.runbook_path);
    run_row.Text(4, r.runbook_text);
    run_row.Text(5, r.runbook_sha256);
    run_row.Text(6, CanonicalJson(r.params));
    run_row.Text(7, r.operator_name);
    run_row.Text(8, r.host);
    run_row.Int(9, r.pid);
    run_row.Text(10, r.lock_key);
    run_row.TextOrNull(11, r.plan_id);
    run_row.Int(12, r.dry_run ? 1 : 0);
    run_row.Text(13, r.started_at);
    run_row.TextOrNull(14, r.finished_at);
    run_row.TextOrNull(15, r.state);
    run_row.Int(16, r.exit_code.value_or(0));
    run_row.Run();
    for (size_t i = 0; i < t.events.size() && seq < n; ++i) {
      StoredEvent e = t.events[i];
      e.run_id = id;
      e.seq = ++seq;
      e.prev_hash = prev_hash;
      e.hash = ChainHash(e.prev_hash, e);
      event_row.Int(1, e.seq);
      event_row.Text(2, e.run_id);
      event_row.Text(3, e.ts);
      event_row.Text(4, e.event);
      event_row.Text(5, e.phase);
      event_row.Text(6, e.step);
      event_row.Text(7, e.from);
      event_row.Text(8, e.to);
      event_row.Int(9, e.attempt);
      event_row.Text(10, details[i]);
      event_row.Text(11, e.prev_hash);
      event_row.Text(12, e.hash);
      event_row.Run();
      prev_hash = e.hash;
    }
  }
  BulkInsert head(sql,
                  "INSERT INTO meta(key, value) VALUES('chain_head_seq', ?), "
                  "('chain_head_hash', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  head.Text(1, std::to_string(seq));
  head.Text(2, prev_hash);
  head.Run();
  Check(tx.Commit(), "commit");
  return first;
}

// --------------------------------------------------------------------------- measurements

constexpr const char* kSelect =
    "SELECT seq, run_id, ts, event, phase, step, from_state, to_state, attempt, detail, "
    "prev_hash, hash FROM events ORDER BY seq";

/// The floor: the rows verify reads, each row's columns hashed once and the hash compared.
/// Returns how many compared equal (none: the floor does not hash the canonical event), so
/// that the work cannot be optimised away.
int64_t FloorPass(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) Die(db.message());
  Transaction tx(**db, Transaction::Kind::kRead);
  Check(tx.status(), "begin");
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  static const char kHex[] = "0123456789abcdef";
  std::string input;
  int64_t equal = 0;
  Statement st(**db, kSelect);
  for (;;) {
    Result<bool> row = st.Step();
    Check(row.status(), "floor");
    if (!*row) break;
    input.assign(st.TextView(10));  // prev_hash first, as the chain hashes it
    for (int c = 0; c < 10; ++c) input += st.TextView(c);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, input.data(), input.size());
    EVP_DigestFinal_ex(ctx, digest, &len);
    char hex[64];
    for (unsigned i = 0; i < len && i < 32; ++i) {
      hex[2 * i] = kHex[digest[i] >> 4];
      hex[2 * i + 1] = kHex[digest[i] & 15];
    }
    if (st.TextView(11) == std::string_view(hex, sizeof hex)) ++equal;
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  return equal;
}

/// PRAGMA quick_check alone: the first of verify's checks (docs/audit.md), which reads every
/// page of the file once more.
void QuickCheckPass(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) Die(db.message());
  Statement check(**db, "PRAGMA quick_check");
  Result<bool> row = check.Step();
  Check(row.status(), "quick_check");
  if (!*row || check.Text(0) != "ok") Die(path + " is not sound");
}

/// Verify through the library, as `audit verify` calls it; dies unless the log is intact.
void VerifyPass(const std::string& path, int64_t n) {
  auto db = AuditDatabase::Open(path);
  if (!db.ok()) Die(db.message());
  auto report = (*db)->events().Verify();
  if (!report.ok()) Die(report.message());
  if (!report->ok || report->events_checked != n)
    Die("verify of " + path + " did not pass: " + report->problem);
}

/// Every row through the exact path: parsed, rebuilt, serialized and hashed.
void ExactPass(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) Die(db.message());
  Transaction tx(**db, Transaction::Kind::kRead);
  Statement st(**db, kSelect);
  for (;;) {
    Result<bool> row = st.Step();
    Check(row.status(), "exact");
    if (!*row) break;
    EventRow r;
    r.seq = st.Int(0);
    r.run_id = st.TextView(1);
    r.ts = st.TextView(2);
    r.event = st.TextView(3);
    r.phase = st.TextView(4);
    r.step = st.TextView(5);
    r.from = st.TextView(6);
    r.to = st.TextView(7);
    r.attempt = static_cast<int>(st.Int(8));
    r.detail = st.TextView(9);
    bool detail_ok = true;
    const StoredEvent e = ToStoredEvent(r, &detail_ok);
    if (HasDuplicateKeys(r.detail) || ChainHash(st.TextView(10), e) != st.TextView(11))
      Die("exact pass: event " + std::to_string(e.seq) + " does not verify");
  }
}

struct SizeResult {
  int64_t events = 0;
  int64_t runs = 0;
  int64_t file_bytes = 0;
  double generate_s = 0;
  double floor_s = 0;
  double verify_s = 0;
  double exact_s = 0;
  double quick_check_s = 0;
  double floor_cpu_s = 0;  // CPU time, less disturbed than wall time by a busy machine
  double verify_cpu_s = 0;
  ChildResult audit_verify, replay_verify, export_jsonl;
  int64_t export_bytes = 0;
};

nlohmann::json ChildJson(const ChildResult& r) {
  return {{"wall_s", r.wall_s}, {"max_rss_kb", r.max_rss_kb}, {"exit_code", r.code}};
}

SizeResult Measure(const BenchOptions& options, const TemplateRun& t, const fs::path& dir,
                   int64_t n) {
  SizeResult r;
  r.events = n;
  const std::string path = (dir / ("audit-" + std::to_string(n) + ".db")).string();
  for (const char* suffix : {"", "-wal", "-shm", ".pending"}) fs::remove(path + suffix);
  auto start = std::chrono::steady_clock::now();
  const std::string run_id = WriteLog(t, n, path);
  r.generate_s = Seconds(start);
  // The log was written without syncing: flush it now, or the kernel's writeback of it (a core
  // and the disk busy for seconds) would run beside the first measurements.
  sync();
  r.runs = (n + static_cast<int64_t>(t.events.size()) - 1) / static_cast<int64_t>(t.events.size());
  r.file_bytes = static_cast<int64_t>(fs::file_size(path));

  (void)FloorPass(path);  // into the page cache
  std::vector<double> floor, verify, quick_check, floor_cpu, verify_cpu, cli_verify, cli_replay,
      cli_export;
  const std::string out = (dir / "child.out").string(), err = (dir / "child.err").string();
  auto child = [&](std::vector<std::string> args, ChildResult* keep, std::vector<double>* wall) {
    args.insert(args.begin(), options.runbook);
    ChildResult c = RunChild(args, dir.string(), path, out, err);
    if (c.code != 0) Die(args[1] + " exited with " + std::to_string(c.code) + ": see " + err);
    wall->push_back(c.wall_s);
    keep->max_rss_kb = std::max(keep->max_rss_kb, c.max_rss_kb);
    keep->code = c.code;
  };
  for (int i = 0; i < options.repeat; ++i) {
    start = std::chrono::steady_clock::now();
    double cpu = CpuSeconds();
    (void)FloorPass(path);
    floor.push_back(Seconds(start));
    floor_cpu.push_back(CpuSeconds() - cpu);
    start = std::chrono::steady_clock::now();
    cpu = CpuSeconds();
    VerifyPass(path, n);
    verify.push_back(Seconds(start));
    verify_cpu.push_back(CpuSeconds() - cpu);
    start = std::chrono::steady_clock::now();
    QuickCheckPass(path);
    quick_check.push_back(Seconds(start));
    child({"audit", "verify"}, &r.audit_verify, &cli_verify);
    child({"replay", run_id, "--verify"}, &r.replay_verify, &cli_replay);
    child({"audit", "export"}, &r.export_jsonl, &cli_export);
    r.export_bytes = static_cast<int64_t>(fs::file_size(out));
  }
  start = std::chrono::steady_clock::now();
  ExactPass(path);
  r.exact_s = Seconds(start);
  r.floor_s = Best(floor);
  r.verify_s = Best(verify);
  r.quick_check_s = Best(quick_check);
  r.floor_cpu_s = Best(floor_cpu);
  r.verify_cpu_s = Best(verify_cpu);
  r.audit_verify.wall_s = Best(cli_verify);
  r.replay_verify.wall_s = Best(cli_replay);
  r.export_jsonl.wall_s = Best(cli_export);
  if (!options.keep) fs::remove(path);
  return r;
}

int Main(int argc, char** argv) {
  BenchOptions options;
  CLI::App app{"time audit verify, replay --verify and audit export on a large audit log"};
  app.add_option("--runbook", options.runbook, "the built runbook binary")->required();
  app.add_option("--events", options.sizes, "log sizes to measure (repeatable)")->required();
  app.add_option("--repeat", options.repeat, "measurements of each, the fastest kept")
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", options.steps, "steps of the runbook whose run is copied")
      ->check(CLI::PositiveNumber);
  app.add_option("--dir", options.dir, "where the logs go (default: a new temporary folder)");
  app.add_flag("--keep", options.keep, "keep the logs");
  app.add_flag("--json", options.json, "print the results as one JSON object");
  CLI11_PARSE(app, argc, argv);
  options.runbook = fs::absolute(options.runbook).string();

  fs::path dir = options.dir;
  const bool own_dir = dir.empty();
  if (own_dir) {
    std::string pattern = (fs::temp_directory_path() / "rb-verify-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) Die("cannot make a temporary folder");
    dir = pattern;
  }
  fs::create_directories(dir);
  const TemplateRun t = MakeTemplate(options, dir);

  nlohmann::ordered_json out = {{"load", LoadAverage()},
                                {"template_steps", options.steps},
                                {"events_per_run", t.events.size()},
                                {"repeat", options.repeat},
                                {"sizes", nlohmann::json::array()}};
  for (int64_t n : options.sizes) {
    const SizeResult r = Measure(options, t, dir, n);
    out["sizes"].push_back(nlohmann::ordered_json{{"events", r.events},
                                                  {"runs", r.runs},
                                                  {"file_bytes", r.file_bytes},
                                                  {"generate_s", r.generate_s},
                                                  {"floor_s", r.floor_s},
                                                  {"verify_s", r.verify_s},
                                                  {"exact_s", r.exact_s},
                                                  {"quick_check_s", r.quick_check_s},
                                                  {"floor_cpu_s", r.floor_cpu_s},
                                                  {"verify_cpu_s", r.verify_cpu_s},
                                                  {"audit_verify", ChildJson(r.audit_verify)},
                                                  {"replay_verify", ChildJson(r.replay_verify)},
                                                  {"export", ChildJson(r.export_jsonl)},
                                                  {"export_bytes", r.export_bytes}});
    if (!options.json) {
      std::printf(
          "%lld events (%lld runs, %.0f MB, written in %.1f s): floor %.3f s, verify %.3f s "
          "(%.2fx; its quick_check %.3f s; CPU floor %.3f s, verify %.3f s), exact path %.3f s; "
          "runbook audit verify %.3f s (%ld KB), replay --verify "
          "%.3f s (%ld KB), audit export %.3f s (%ld KB)\n",
          static_cast<long long>(r.events), static_cast<long long>(r.runs),
          static_cast<double>(r.file_bytes) / 1e6, r.generate_s, r.floor_s, r.verify_s,
          r.verify_s / r.floor_s, r.quick_check_s, r.floor_cpu_s, r.verify_cpu_s, r.exact_s,
          r.audit_verify.wall_s, r.audit_verify.max_rss_kb, r.replay_verify.wall_s,
          r.replay_verify.max_rss_kb, r.export_jsonl.wall_s, r.export_jsonl.max_rss_kb);
      std::fflush(stdout);
    }
  }
  if (options.json) std::printf("%s\n", out.dump().c_str());
  if (own_dir && !options.keep) fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace runbook

int main(int argc, char** argv) { return runbook::Main(argc, argv); }
