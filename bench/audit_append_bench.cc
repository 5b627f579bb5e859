// How fast executors append to one audit hash chain (docs/performance.md).
//
// N executor processes, each with its own connection to one store (a SQLite file or a
// PostgreSQL URL, as --audit-db takes them), start a run each and append E events to it, all
// at once: every append reads the chain head and writes the next link, so the N writers
// serialize on that head. The program reports the wall time from the start signal to the last
// append, events per second, the latency of one append, and how evenly the executors were
// served; then it verifies the whole chain and fails when it is not intact or when an event is
// missing.
//
//   audit_append_bench --store PATH|URL --executors N --events E [--json]
//
// The executors are forked processes, not threads, because a real executor is a process of its
// own (often on another machine) with a connection of its own. They connect first and then
// wait on a pipe, so that connecting is not measured and all start together.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/inputs.h"
#include "audit/pg_connection.h"
#include "audit/store.h"
#include "engine/audit_sink.h"
#include "engine/environment.h"
#include "engine/events.h"

namespace runbook {
namespace {

struct BenchOptions {
  std::string store;
  int executors = 1;
  int events = 500;
  bool json = false;
};

/// What one executor leaves for the parent, in memory the processes share.
struct ExecutorSlot {
  double start_s = 0;  // steady clock, seconds: when its first write began
  double end_s = 0;    // when its last append returned
  int ok = 0;          // set last, when the rest is written
  char error[512] = {};
};

/// The memory the executors report through: one slot each, then E append latencies each.
class SharedResults {
 public:
  SharedResults(int executors, int events)
      : executors_(executors),
        events_(events),
        bytes_(sizeof(ExecutorSlot) * executors + sizeof(double) * executors * events) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~SharedResults() {
    if (base_) munmap(base_, bytes_);
  }
  SharedResults(const SharedResults&) = delete;
  SharedResults& operator=(const SharedResults&) = delete;

  bool ok() const { return base_ != nullptr; }
  ExecutorSlot& slot(int i) { return reinterpret_cast<ExecutorSlot*>(base_)[i]; }
  double* latencies(int i) {
    auto* all = reinterpret_cast<double*>(base_ + sizeof(ExecutorSlot) * executors_);
    return all + static_cast<size_t>(i) * events_;
  }

 private:
  int executors_;
  int events_;
  size_t bytes_;
  char* base_ = nullptr;
};

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------------------ the events

constexpr const char* kRunbookText =
    "runbook: checkout-api-release\n"
    "params:\n  version: {required: true}\n  region: {default: eu-west-1}\n"
    "steps:\n"
    "  - id: drain\n    shell: {command: \"lb drain --service checkout-api\"}\n"
    "  - id: deploy\n    shell: {command: \"deploy.sh --release {{ params.version }}\"}\n"
    "    rollback: {shell: {command: \"deploy.sh --release previous\"}}\n"
    "  - id: undrain\n    shell: {command: \"lb undrain --service checkout-api\"}\n";

RunRecord BenchRun(const std::string& run_id, int executor) {
  RunRecord run;
  run.run_id = run_id;
  run.runbook = "checkout-api-release";
  run.runbook_path = "runbooks/checkout-api-release.yaml";
  run.runbook_text = kRunbookText;
  run.params = {{"version", "2026.11.23-4f2c9e1"}, {"region", "eu-west-1"}};
  run.operator_name = "bench";
  run.host = "executor-" + std::to_string(executor);  // as if each ran on a machine of its own
  run.pid = getpid();
  run.lock_key = "checkout-api/executor-" + std::to_string(executor);
  run.started_at = std::chrono::system_clock::now();
  return run;
}

/// Event `i` of a run: the five events a step writes when it runs a shell command once
/// (step_started, attempt_started, process_started, attempt_finished, step_succeeded), over
/// and over, with details of the size the executor writes (about 300 bytes on average).
AuditEvent BenchEvent(int i) {
  const int step = i / 5 + 1;
  AuditEvent e;
  e.ts = std::chrono::system_clock::now();
  e.phase = "step";
  e.step = "deploy-" + std::to_string(step);
  e.attempt = 1;
  const std::string command =
      "./deploy.sh --release 2026.11.23-4f2c9e1 --service checkout-api --region eu-west-1 "
      "--image registry.example.com/shop/checkout-api:2026.11.23-4f2c9e1 --canary 10% "
      "--wait-healthy 120s --notify '#deploys'";
  switch (i % 5) {
    case 0: {
      e.event = EventKind::kStepStarted;
      e.attempt = 0;
      StepStartedDetail d{
          .name = "roll out checkout-api to eu-west-1 (batch " + std::to_string(step) + ")",
          .action = "shell",
          .description = command,
          .max_attempts = 3,
          .timeout_ms = 600000};
      e.detail = d;
      break;
    }
    case 1:
      e.event = EventKind::kAttemptStarted;
      e.detail = AttemptStartedDetail{.description = command};
      break;
    case 2:
      e.event = EventKind::kProcessStarted;
      e.detail = ProcessStartedDetail{.pid = 40000 + step,
                                      .pgid = 40000 + step,
                                      .boot_id = "3f0c2a5e-8d1b-4c7e-9a60-2b7f1d4e5c83",
                                      .start_time = 918273645 + step};
      break;
    case 3: {
      e.event = EventKind::kAttemptFinished;
      AttemptFinishedDetail d;
      d.outcome = "succeeded";
      d.exit_status = 0;
      d.duration_ms = 48213;
      d.stdout_tail =
          "pulling registry.example.com/shop/checkout-api:2026.11.23-4f2c9e1 ... done\n"
          "checkout-api: updating 12 pods in eu-west-1 (max surge 3, max unavailable 0)\n"
          "checkout-api: 3/12 pods updated to 2026.11.23-4f2c9e1\n"
          "checkout-api: 6/12 pods updated to 2026.11.23-4f2c9e1\n"
          "checkout-api: 9/12 pods updated to 2026.11.23-4f2c9e1\n"
          "checkout-api: 12/12 pods updated to 2026.11.23-4f2c9e1\n"
          "canary 10%: error rate 0.02% (threshold 1%), p99 183 ms (threshold 400 ms)\n"
          "canary 10%: 4182 requests, 1 error (HTTP 503 from upstream payments, retried)\n"
          "canary promoted; waiting for healthy: 12/12 ready after 41 s\n"
          "release 2026.11.23-4f2c9e1 is live in eu-west-1; notified #deploys\n";
      e.detail = d;
      break;
    }
    case 4:
      e.event = EventKind::kStepSucceeded;
      e.detail = StepEndDetail{.attempts = 1, .duration_ms = 48240, .exit_status = 0};
      break;
  }
  return e;
}

// --------------------------------------------------------------------------- an executor

/// One executor process: connects, says it is ready on `ready_fd`, waits until `go_fd` is
/// closed, then begins its run and appends `events` events to it. Never returns.
[[noreturn]] void RunExecutor(const BenchOptions& options, int executor, const std::string& run_id,
                              int ready_fd, int go_fd, SharedResults& results) {
  ExecutorSlot& slot = results.slot(executor);
  double* latencies = results.latencies(executor);
  auto fail = [&](const std::string& what) {
    std::snprintf(slot.error, sizeof slot.error, "%s", what.c_str());
  };
  {
    std::unique_ptr<Environment> env = MakeSystemEnvironment();
    Result<std::unique_ptr<AuditStore>> store = OpenAuditDatabase(options.store, *env);
    const char ready = store.ok() ? 'r' : 'x';
    if (!store.ok()) fail("cannot open the store: " + store.message());
    if (write(ready_fd, &ready, 1) != 1 || !store.ok()) _exit(1);
    close(ready_fd);
    char c;
    while (read(go_fd, &c, 1) > 0) {
    }  // until the parent closes the pipe
    EventStore& events = (*store)->events();
    slot.start_s = SteadySeconds();
    if (Status s = events.BeginRun(BenchRun(run_id, executor)); !s.ok()) {
      fail(s.message());
      _exit(1);
    }
    for (int i = 0; i < options.events; ++i) {
      const AuditEvent event = BenchEvent(i);
      const double before = SteadySeconds();
      if (Status s = events.Append(run_id, event); !s.ok()) {
        fail("event " + std::to_string(i + 1) + ": " + s.message());
        _exit(1);
      }
      latencies[i] = SteadySeconds() - before;
    }
    slot.end_s = SteadySeconds();
    // A store that would keep an event back in a journal has not put it in the chain.
    if (AuditBacklog backlog = events.Backlog(run_id); backlog.journaled || backlog.held) {
      fail(std::to_string(backlog.journaled + backlog.held) +
           " events went to the journal: " + backlog.store_error);
      _exit(1);
    }
  }  // closes the connection
  slot.ok = 1;
  // _exit: the parent's objects (its copy of the options, the shared memory) are the parent's.
  _exit(0);
}

// ------------------------------------------------------------------------------ the parent

struct Measurement {
  std::string store_kind;  // sqlite | postgresql
  std::string location;    // without a password
  int executors = 0;
  int events_each = 0;
  double detail_bytes = 0;          // mean size of an event's detail, as JSON
  double wall_s = 0;                // from the start signal to the last append
  std::vector<double> latencies_s;  // every append, sorted
  double first_done_s = 0;          // when the first executor finished, after the start
  int64_t events_checked = 0;       // by Verify, the whole chain
  double verify_s = 0;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double MeanDetailBytes(int events) {
  const int n = std::min(events, 5);  // the events repeat every five
  double bytes = 0;
  for (int i = 0; i < n; ++i) bytes += static_cast<double>(BenchEvent(i).detail.dump().size());
  return n ? bytes / n : 0;
}

Result<std::unique_ptr<AuditStore>> OpenStore(const std::string& location) {
  std::unique_ptr<Environment> env = MakeSystemEnvironment();
  return OpenAuditDatabase(location, *env);
}

/// Verifies the chain and that it holds exactly the events `m` appended, one run each.
Status CheckChain(const std::string& location, int64_t events_before,
                  const std::vector<std::string>& run_ids, Measurement& m) {
  Result<std::unique_ptr<AuditStore>> store = OpenStore(location);
  if (!store.ok()) return store.status().WithContext("cannot reopen the store to verify it");
  EventStore& events = (*store)->events();
  const double start = SteadySeconds();
  Result<VerifyReport> report = events.Verify();
  m.verify_s = SteadySeconds() - start;
  if (!report.ok()) return report.status().WithContext("cannot verify the chain");
  if (!report->ok) return Status::Error("the chain is not intact: " + report->problem);
  m.events_checked = report->events_checked;
  const int64_t expected = events_before + static_cast<int64_t>(m.executors) * m.events_each;
  if (report->events_checked != expected) {
    return Status::Error("the chain holds " + std::to_string(report->events_checked) +
                         " events; expected " + std::to_string(expected));
  }
  for (const std::string& run_id : run_ids) {
    Result<std::vector<StoredEvent>> of_run = events.Events(run_id);
    if (!of_run.ok()) return of_run.status();
    if (static_cast<int>(of_run->size()) != m.events_each) {
      return Status::Error("run " + run_id + " has " + std::to_string(of_run->size()) +
                           " events; expected " + std::to_string(m.events_each));
    }
  }
  return Status::Ok();
}

/// Forks one executor per run id, lets them all start at once when all are connected, and
/// reaps them. Returns when the start signal was given (steady clock seconds), or what failed.
Result<double> RunExecutors(const BenchOptions& options, const std::vector<std::string>& run_ids,
                            SharedResults& results) {
  int ready[2], go[2];
  if (pipe(ready) != 0) return Status::Error(std::string("pipe: ") + std::strerror(errno));
  if (pipe(go) != 0) return Status::Error(std::string("pipe: ") + std::strerror(errno));
  std::vector<pid_t> children;
  std::fflush(nullptr);  // nothing buffered may be written twice
  for (int i = 0; i < static_cast<int>(run_ids.size()); ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      close(ready[0]);
      close(go[1]);
      RunExecutor(options, i, run_ids[i], ready[1], go[0], results);
    }
    if (pid < 0) {
      const std::string error = std::string("fork: ") + std::strerror(errno);
      for (pid_t child : children) kill(child, SIGKILL);  // before they are told to start
      for (pid_t child : children) waitpid(child, nullptr, 0);
      return Status::Error(error);
    }
    children.push_back(pid);
  }
  close(ready[1]);
  close(go[0]);
  int connected = 0;
  char c;
  while (read(ready[0], &c, 1) == 1) connected += c == 'r';  // EOF: every executor answered
  close(ready[0]);
  const double go_s = SteadySeconds();
  close(go[1]);  // the start signal: end of file for every executor at once

  std::string failures;
  for (int i = 0; i < static_cast<int>(children.size()); ++i) {
    int status = 0;
    waitpid(children[i], &status, 0);
    const ExecutorSlot& slot = results.slot(i);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && slot.ok) continue;
    std::string why = slot.error;
    if (why.empty() && WIFSIGNALED(status))
      why = "killed by signal " + std::to_string(WTERMSIG(status));
    if (why.empty()) why = "exited with status " + std::to_string(WEXITSTATUS(status));
    failures += "\n  executor " + std::to_string(i) + ": " + why;
  }
  if (!failures.empty() || connected != static_cast<int>(children.size())) {
    return Status::Error("executors failed:" + failures);
  }
  return go_s;
}

Result<Measurement> Measure(const BenchOptions& options) {
  Measurement m;
  m.store_kind = IsPostgresUrl(options.store) ? "postgresql" : "sqlite";
  m.executors = options.executors;
  m.events_each = options.events;
  m.detail_bytes = MeanDetailBytes(options.events);

  // Create the schema now, once, and count what the store already holds; the executors open
  // their own connections after the fork, as executors on other machines would.
  int64_t events_before = 0;
  {
    Result<std::unique_ptr<AuditStore>> store = OpenStore(options.store);
    if (!store.ok()) return store.status();
    m.location = (*store)->location();
    Result<VerifyReport> before = (*store)->events().Verify();
    if (!before.ok()) return before.status();
    if (!before->ok) {
      return Status::Error("the store's chain is not intact before the run: " + before->problem);
    }
    events_before = before->events_checked;
  }

  SharedResults results(options.executors, options.events);
  if (!results.ok()) return Status::Error(std::string("mmap: ") + std::strerror(errno));
  const std::string run_prefix =
      "bench-" + std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  std::vector<std::string> run_ids;
  for (int i = 0; i < options.executors; ++i)
    run_ids.push_back(run_prefix + "-e" + std::to_string(i));
  Result<double> go_s = RunExecutors(options, run_ids, results);
  if (!go_s.ok()) return go_s.status();

  double last_end = *go_s, first_end = 1e300;
  for (int i = 0; i < options.executors; ++i) {
    last_end = std::max(last_end, results.slot(i).end_s);
    first_end = std::min(first_end, results.slot(i).end_s);
    const double* l = results.latencies(i);
    m.latencies_s.insert(m.latencies_s.end(), l, l + options.events);
  }
  std::sort(m.latencies_s.begin(), m.latencies_s.end());
  m.wall_s = last_end - *go_s;
  m.first_done_s = first_end - *go_s;
  if (Status s = CheckChain(options.store, events_before, run_ids, m); !s.ok()) return s;
  return m;
}

// ------------------------------------------------------------------------------ the report

nlohmann::json ToJson(const Measurement& m) {
  const double total = static_cast<double>(m.executors) * m.events_each;
  const auto ms = [](double s) { return std::round(s * 1e5) / 100; };  // 0.01 ms
  return {
      {"store", m.store_kind},
      {"location", m.location},
      {"executors", m.executors},
      {"events_per_executor", m.events_each},
      {"events", static_cast<int64_t>(total)},
      {"detail_bytes", std::round(m.detail_bytes)},
      {"wall_s", std::round(m.wall_s * 1000) / 1000},
      {"events_per_s", std::round(total / m.wall_s * 10) / 10},
      {"append_ms",
       {{"p50", ms(Percentile(m.latencies_s, 0.5))},
        {"p90", ms(Percentile(m.latencies_s, 0.9))},
        {"p99", ms(Percentile(m.latencies_s, 0.99))},
        {"max", ms(m.latencies_s.empty() ? 0 : m.latencies_s.back())}}},
      {"first_executor_done_s", std::round(m.first_done_s * 1000) / 1000},
      {"verify",
       {{"intact", true},
        {"events", m.events_checked},
        {"seconds", std::round(m.verify_s * 1000) / 1000}}},
  };
}

void PrintText(const Measurement& m) {
  const double total = static_cast<double>(m.executors) * m.events_each;
  const auto ms = [&](double p) { return Percentile(m.latencies_s, p) * 1000; };
  std::printf("store: %s %s\n", m.store_kind.c_str(), m.location.c_str());
  std::printf("executors: %d x %d events (%.0f events; details of %.0f bytes on average)\n",
              m.executors, m.events_each, total, m.detail_bytes);
  std::printf("wall: %.3f s, %.1f events/s\n", m.wall_s, total / m.wall_s);
  std::printf("append: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", ms(0.5), ms(0.9),
              ms(0.99), ms(1.0));
  std::printf("executors done: first after %.3f s, last after %.3f s\n", m.first_done_s, m.wall_s);
  std::printf("verify: intact, %lld events in %.3f s\n", static_cast<long long>(m.events_checked),
              m.verify_s);
}

int Main(int argc, char** argv) {
  BenchOptions options;
  CLI::App app{
      "Appends events into one audit hash chain from N executor processes at once and "
      "reports events per second; then verifies the chain (docs/performance.md)."};
  app.add_option("--store", options.store, "a SQLite file or a postgresql:// URL")->required();
  app.add_option("--executors,-n", options.executors, "concurrent executor processes")
      ->check(CLI::Range(1, 256));
  app.add_option("--events,-e", options.events, "events each executor appends")
      ->check(CLI::Range(1, 10000000));
  app.add_flag("--json", options.json, "print one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // a usage error exits 2, as runbook's do
  }

  Result<Measurement> m = Measure(options);
  if (!m.ok()) {
    // The store's own messages name it (a URL without its password).
    std::fprintf(stderr, "audit_append_bench: error: %s\n", m.message().c_str());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", ToJson(*m).dump().c_str());
  } else {
    PrintText(*m);
  }
  return 0;
}

}  // namespace
}  // namespace runbook

int main(int argc, char** argv) { return runbook::Main(argc, argv); }
