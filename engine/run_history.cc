#include "engine/run_history.h"

namespace runbook {
namespace {

// Updates what a rollback or a later step needs from a step's last attempt. The undo_state
// stays that of an earlier attempt when this one recorded none (an auto rollback's own
// attempts of the same step id record none).
void UpdateResult(const AttemptFinishedDetail& d, StepResult& r) {
  r.exit_status = d.exit_status;
  r.outcome =
      d.outcome == "succeeded" ? StepResult::Outcome::kSucceeded : StepResult::Outcome::kFailed;
  r.hosts.clear();
  for (const HostDetail& h : d.hosts) {
    HostResult hr;
    hr.host = h.host;
    hr.ok = h.ok;
    hr.reached = h.reached;
    hr.exit_status = h.exit_status;
    hr.error = h.error;
    hr.outputs = h.outputs;
    r.hosts.push_back(hr);
  }
  if (!d.undo_state.is_null()) r.undo_state = d.undo_state;
}

// The part of the fold that concerns where the run stopped: the state it was last in, whether
// that state's step ended, and the processes that step started in their own groups.
void FoldResumePoint(const EventView& e, EventKind kind, ResumePoint& p, int64_t& state_seq,
                     std::string& state_step) {
  if (kind == EventKind::kStateChanged) {
    p.state = e.to;
    state_seq = e.seq;
    state_step = e.step;
    p.step_started = false;
    p.step_finished = false;
    p.step_ok = false;
    p.processes.clear();
  }
  if (e.seq > state_seq && e.step == state_step && !state_step.empty()) {
    if (kind == EventKind::kStepStarted || kind == EventKind::kRollbackStarted)
      p.step_started = true;
    if (IsStepEnd(kind)) {
      p.step_finished = true;
      p.step_ok = IsStepSuccess(kind);
    }
    if (kind == EventKind::kProcessStarted) {
      auto started = e.detail.get<ProcessStartedDetail>();
      if (started.pgid > 0) p.processes.push_back(std::move(started));
    }
  }
  if (kind == EventKind::kRollbackFailed) p.rollback_failed = true;
  if (kind == EventKind::kRunFinished) p.finished = e.detail.get<RunFinishedDetail>();
  if (kind == EventKind::kStepFailed && p.cause.empty())
    p.cause = e.step + ": " + e.detail.get<StepEndDetail>().error.value_or("");
}

}  // namespace

const StepHistory* RunHistory::Step(const std::string& phase, const std::string& step) const {
  auto it = steps.find({phase, step});
  return it == steps.end() ? nullptr : &it->second;
}

RunHistory ReadRunHistory(const std::vector<EventView>& events, int executor_pid) {
  RunHistory h;
  ResumePoint& p = h.resume;
  p.dead_pid = executor_pid;
  p.state = "pending";
  int64_t state_seq = 0;
  std::string state_step;
  for (const EventView& e : events) {
    if (!e.kind) continue;  // a newer version's event: nothing this reader relies on
    const EventKind kind = *e.kind;
    FoldResumePoint(e, kind, p, state_seq, state_step);
    p.hosts.Add(e);
    switch (kind) {
      case EventKind::kStateChanged:
        h.transitions.push_back({e.seq, e.from, e.to, e.detail.get<StateChangedDetail>().trigger});
        break;
      case EventKind::kRunFinished:
        h.finished = FinishRecord{e.seq, e.to, e.detail.get<RunFinishedDetail>()};
        break;
      case EventKind::kStepStarted:
      case EventKind::kRollbackStarted:
        h.steps[{e.phase, e.step}].started = e.detail.get<StepStartedDetail>();
        break;
      case EventKind::kAttemptStarted:
        ++h.steps[{e.phase, e.step}].attempts;
        break;
      case EventKind::kAttemptFinished: {
        if (!e.detail.is_object()) break;
        auto d = e.detail.get<AttemptFinishedDetail>();
        // Keyed by step id alone: what `{{ steps.ID.stdout }}` and a rollback read.
        auto& v = p.values[e.step];
        v.stdout_text = TrimTrailingNewlines(d.stdout_tail);
        v.stderr_text = TrimTrailingNewlines(d.stderr_tail);
        for (const HostDetail& host : d.hosts)
          if (!host.outputs.empty()) v.host_outputs[host.host] = host.outputs;
        UpdateResult(d, p.results[e.step]);
        h.steps[{e.phase, e.step}].last_attempt = std::move(d);
        break;
      }
      case EventKind::kStepSucceeded:
      case EventKind::kStepFailed:
      case EventKind::kStepSkipped:
      case EventKind::kRollbackSucceeded:
      case EventKind::kRollbackFailed: {
        StepHistory& s = h.steps[{e.phase, e.step}];
        s.end = kind;
        s.end_detail = e.detail.get<StepEndDetail>();
        if (kind == EventKind::kStepSucceeded && s.end_detail.outputs)
          for (const auto& [name, value] : *s.end_detail.outputs)
            p.values[e.step].outputs[name] = value;
        break;
      }
      case EventKind::kHostFinished: {
        // Each host's outputs are durable when the host is done, before the attempt ends.
        auto d = e.detail.get<HostFinishedDetail>();
        if (!d.host.empty() && !d.outputs.empty())
          p.values[e.step].host_outputs[d.host] = std::move(d.outputs);
        break;
      }
      case EventKind::kRunStarted:
      case EventKind::kRunRecovered:
      case EventKind::kProcessStarted:
      case EventKind::kKubectlTarget:
      case EventKind::kKubectlRevisions:
      case EventKind::kKubectlUndo:
      case EventKind::kHostFailed:
      case EventKind::kHostSkipped:
      case EventKind::kPlansPruned:
      case EventKind::kNotificationSent:
      case EventKind::kNotificationFailed:
      case EventKind::kWebAction:
        break;
    }
  }
  return h;
}

}  // namespace runbook
