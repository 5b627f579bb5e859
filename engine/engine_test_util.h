// Builders and fakes shared by the engine's tests: hand-made runbooks, a scripted StepRunner,
// an in-memory AuditSink and a silent Reporter.
#pragma once

#include <optional>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/audit_sink.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/reporter.h"
#include "engine/step_runner.h"

namespace runbook::testing {

inline StepSpec Shell(const std::string& id, const std::string& command,
                      Phase phase = Phase::kStep) {
  StepSpec s;
  s.id = id;
  s.name = id;
  s.phase = phase;
  s.action = ShellAction{command, "", {}};
  return s;
}

inline StepSpec WithUndo(StepSpec s, const std::string& command) {
  s.rollback.kind = RollbackSpec::Kind::kActions;
  s.rollback.actions.push_back(Shell(s.id + "-rollback-1", command, Phase::kRollback));
  return s;
}

/// Runs nothing: answers each attempt from a script keyed by step id (missing: success),
/// and records the order of calls as "id" (or "id#attempt" after the first).
class ScriptedRunner : public StepRunner {
 public:
  StepResult Run(const StepRequest& request, StepContext& context) override {
    std::lock_guard<std::mutex> lock(mu);
    const std::string& id = request.step->id;
    calls.push_back(request.attempt == 1 ? id : id + "#" + std::to_string(request.attempt));
    if (hooks.count(id)) hooks[id](context);
    StepResult r;
    r.outcome = StepResult::Outcome::kSucceeded;
    auto it = script.find(id);
    if (it != script.end() && !it->second.empty()) {
      r = it->second.front();
      if (it->second.size() > 1) it->second.erase(it->second.begin());
    }
    return r;
  }
  bool CommitsBeforeActing(const StepSpec&) const override { return commits_before_acting; }

  static StepResult Fail(int status) {
    StepResult r;
    r.outcome = StepResult::Outcome::kFailed;
    r.exit_status = status;
    r.error = "exit status " + std::to_string(status);
    return r;
  }
  static StepResult Ok(const std::string& out = "") {
    StepResult r;
    r.outcome = StepResult::Outcome::kSucceeded;
    r.exit_status = 0;
    r.stdout_text = out;
    return r;
  }

  std::mutex mu;
  std::map<std::string, std::vector<StepResult>> script;
  std::map<std::string, std::function<void(StepContext&)>> hooks;
  std::vector<std::string> calls;
  /// What CommitsBeforeActing answers: set it when every hook Records before it "acts".
  bool commits_before_acting = false;
};

class MemoryAudit : public AuditSink {
 public:
  Status BeginRun(const RunRecord& run) override {
    runs.push_back(run);
    return Status::Ok();
  }
  Status Append(const std::string& run_id, const AuditEvent& event) override {
    if (Status s = Queue(run_id, event); !s.ok()) return s;
    return Sync(nullptr);
  }
  /// Without `batching`, durable at once (AuditSink's default); with it, held in `pending`
  /// until Sync, as the stores do.
  Status Queue(const std::string& run_id, const AuditEvent& event) override {
    if ((fail_from >= 0 && static_cast<int>(events.size() + pending.size()) >= fail_from) ||
        (fail_kind && event.event == *fail_kind))
      return Status::IOError("disk full");
    if (!batching) {
      events.push_back(event);
      return Status::Ok();
    }
    (void)run_id;
    pending.push_back(event);
    return Status::Ok();
  }
  Status Sync(int* not_durable) override {
    if (not_durable) *not_durable = 0;
    ++syncs;
    if (fail_sync) {  // what was queued is lost, as with a store that cannot write
      if (not_durable) *not_durable = static_cast<int>(pending.size());
      pending.clear();
      return Status::IOError("disk full");
    }
    events.insert(events.end(), pending.begin(), pending.end());
    pending.clear();
    return Status::Ok();
  }
  Status EndRun(const std::string&, const std::string& s, int code,
                std::chrono::system_clock::time_point) override {
    if (fail_end_run) return Status::IOError("disk full");
    (void)Sync(nullptr);
    state = s;
    exit_code = code;
    return Status::Ok();
  }
  AuditBacklog Backlog(const std::string&) const override { return backlog; }
  std::vector<std::string> Names(const std::string& step = "") const {
    std::vector<std::string> out;
    for (const auto& e : events)
      if (step.empty() || e.step == step) out.emplace_back(EventName(e.event));
    return out;
  }

  std::vector<RunRecord> runs;
  std::vector<AuditEvent> events;   // durable
  std::vector<AuditEvent> pending;  // queued (batching only)
  bool batching = false;
  int syncs = 0;                    // Sync calls (commits, for a store)
  std::string state;
  int exit_code = -1;
  int fail_from = -1;  // events with this index and later fail
  std::optional<EventKind> fail_kind;  // events of this kind fail
  bool fail_end_run = false;
  bool fail_sync = false;  // Sync fails and loses what was queued
  AuditBacklog backlog;  // what Backlog() reports, as a store with a journal would
};

class SilentReporter : public Reporter {
 public:
  void RunStarted(const Runbook&, const std::string&, bool) override {}
  void PhaseChanged(std::string_view, std::string_view) override {}
  void StepStarted(const StepSpec&, Phase, int, int, std::string_view, bool) override {}
  void StepOutput(const StepSpec&, std::string_view, bool, std::string_view line) override {
    output.emplace_back(line);
  }
  void StepProgress(const StepSpec&, std::string_view) override {}
  void StepHosts(const StepSpec&, int, int, int) override {}
  void StepFinished(const StepSpec&, Phase, bool, std::string_view, Duration, bool) override {}
  void Note(std::string_view) override {}
  void RunFinished(const RunSummary&) override {}
  std::vector<std::string> output;
};

}  // namespace runbook::testing
