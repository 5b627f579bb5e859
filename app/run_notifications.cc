#include "app/run_notifications.h"

#include <optional>

namespace runbook {
namespace {

std::optional<NotifyEvent> EndEvent(const std::string& state) {
  if (state == "succeeded") return NotifyEvent::kRunSucceeded;
  if (state == "rolled_back") return NotifyEvent::kRunRolledBack;
  if (state == "rollback_failed") return NotifyEvent::kRollbackFailed;
  if (state == "aborted") return NotifyEvent::kRunAborted;
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Notifier> MakeRunNotifier(WebhookSender& sender, const Runbook& runbook,
                                          const RunOptions& options, const Environment& env) {
  TemplateScope scope;
  scope.params = options.params;
  scope.secrets = options.secrets;
  scope.run_id = options.run_id;
  scope.env = [&env](const std::string& name) { return env.GetEnv(name).value_or(""); };
  Redactor redactor;
  for (const auto& [name, value] : options.secrets) redactor.Add(value);
  for (const ParamSpec& p : runbook.params) {
    auto value = options.params.find(p.name);
    if (p.secret && value != options.params.end()) redactor.Add(value->second);
  }
  std::vector<NotifyTarget> targets;
  if (!options.dry_run) targets = NotifyTargetsFor(runbook, env);
  return std::make_unique<Notifier>(sender, std::move(targets), std::move(scope),
                                    std::move(redactor));
}

NotifyingSink::NotifyingSink(AuditSink& inner, Notifier& notifier, const Environment& env,
                             std::string environment)
    : inner_(inner), notifier_(notifier), env_(env) {
  run_.environment = std::move(environment);
}

void NotifyingSink::Resuming(const std::string& run_id, const std::string& runbook,
                             const std::string& operator_name, const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  run_.runbook = runbook;
  run_.run_id = run_id;
  run_.operator_name = operator_name;
  run_.plan_id = plan_id;
  start_pending_ = false;
}

Status NotifyingSink::Append(const std::string& run_id, const AuditEvent& event) {
  return Pass(run_id, event, /*queue=*/false);
}

Status NotifyingSink::Queue(const std::string& run_id, const AuditEvent& event) {
  return Pass(run_id, event, /*queue=*/true);
}

Status NotifyingSink::Sync(int* not_durable) {
  Status s = inner_.Sync(not_durable);
  if (s.ok()) NotifyStarted();
  return s;
}

void NotifyingSink::NotifyStarted() {
  NotifyFacts facts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!start_pending_) return;
    start_pending_ = false;
    facts = run_;
  }
  facts.event = NotifyEvent::kRunStarted;
  facts.state = "running";
  const std::string run_id = facts.run_id;
  Notify(run_id, std::move(facts));
}

Status NotifyingSink::Pass(const std::string& run_id, const AuditEvent& event, bool queue) {
  auto forward = [&]() {
    return queue ? inner_.Queue(run_id, event) : inner_.Append(run_id, event);
  };
  switch (event.event) {
    case EventKind::kRunStarted: {
      Status s = forward();
      const auto d = event.detail.get<RunStartedDetail>();
      {
        std::lock_guard<std::mutex> lock(mu_);
        run_.runbook = d.runbook;
        run_.run_id = run_id;
        run_.operator_name = d.operator_name;
        run_.plan_id = d.plan_id;
        start_pending_ = true;
      }
      // The webhooks hear of the start once it is durable: now, or at the next Sync.
      if (s.ok() && !queue) NotifyStarted();
      return s;
    }
    case EventKind::kStepFailed: {
      const auto d = event.detail.get<StepEndDetail>();
      std::lock_guard<std::mutex> lock(mu_);
      if (cause_.empty())
        cause_ = "step '" + event.step + "' failed" + (d.error ? ": " + *d.error : "");
      break;
    }
    case EventKind::kRunFinished: {
      const auto d = event.detail.get<RunFinishedDetail>();
      if (std::optional<NotifyEvent> end = EndEvent(d.state)) {
        NotifyFacts facts;
        {
          std::lock_guard<std::mutex> lock(mu_);
          facts = run_;
          facts.cause = cause_.empty() ? d.error.value_or("") : cause_;
        }
        facts.event = *end;
        facts.state = d.state;
        facts.exit_code = d.exit_code;
        if (*end == NotifyEvent::kRunSucceeded) facts.cause.clear();
        Notify(run_id, std::move(facts));
      }
      break;
    }
    case EventKind::kStateChanged:
    case EventKind::kStepStarted:
    case EventKind::kAttemptStarted:
    case EventKind::kAttemptFinished:
    case EventKind::kStepSucceeded:
    case EventKind::kStepSkipped:
    case EventKind::kRollbackStarted:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackFailed:
    case EventKind::kRunRecovered:
    case EventKind::kProcessStarted:
    case EventKind::kHostFinished:
    case EventKind::kKubectlTarget:
    case EventKind::kKubectlRevisions:
    case EventKind::kKubectlUndo:
    case EventKind::kHostFailed:
    case EventKind::kHostSkipped:
    case EventKind::kNotificationSent:
    case EventKind::kNotificationFailed:
    case EventKind::kPlansPruned:
    case EventKind::kWebAction:
      break;
  }
  return forward();
}

void NotifyingSink::Notify(const std::string& run_id, NotifyFacts facts) {
  for (const NotificationOutcome& outcome : notifier_.Send(facts)) {
    AuditEvent record;
    record.ts = env_.Now();
    record.event = outcome.sent ? EventKind::kNotificationSent : EventKind::kNotificationFailed;
    record.phase = "run";
    record.detail = outcome.detail;
    // A record that cannot be written is the store's problem, which the executor hears of
    // through its own records; a notification's never changes the run.
    (void)inner_.Queue(run_id, record);
  }
}

}  // namespace runbook
