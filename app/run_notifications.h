// When a run's notifications go out (docs/notifications.md): an audit sink between the
// executor and the store that watches the run's own records. After run_started is durable (the
// Sync after it) it tells the webhooks the run started; before run_finished it tells them how
// the run ended, so that the outcome of every webhook (notify_sent, notify_failed) is in the
// run's chain and run_finished stays the run's last event. Nothing a webhook does reaches the
// executor: the events it watches are passed on exactly as they came, with their status.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "app/notify.h"
#include "engine/audit_sink.h"
#include "engine/executor.h"

namespace runbook {

/// The notifier of one run: the runbook's webhooks, then the settings file's, rendered with
/// the run's params, secrets and id; secret values masked. Empty for a dry run (it changes
/// nothing anyone needs to hear of). `sender` must outlive it.
std::unique_ptr<Notifier> MakeRunNotifier(WebhookSender& sender, const Runbook& runbook,
                                          const RunOptions& options, const Environment& env);

class NotifyingSink : public AuditSink {
 public:
  /// `inner` and `notifier` must outlive the sink. `environment` is the runbook's, for the
  /// payload. Append may be called from several threads (ssh hosts), as the executor does.
  NotifyingSink(AuditSink& inner, Notifier& notifier, const Environment& env,
                std::string environment);
  NotifyingSink(const NotifyingSink&) = delete;
  NotifyingSink& operator=(const NotifyingSink&) = delete;

  /// For a run that `recover` resumes: what its run_started said, which the resumed executor
  /// does not write again. Its webhooks then hear of its end, not of a second start.
  void Resuming(const std::string& run_id, const std::string& runbook,
                const std::string& operator_name, const std::string& plan_id);

  Status BeginRun(const RunRecord& run) override { return inner_.BeginRun(run); }
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  Status Queue(const std::string& run_id, const AuditEvent& event) override;
  Status Sync(int* not_durable) override;
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override {
    return inner_.EndRun(run_id, state, exit_code, finished_at);
  }
  AuditBacklog Backlog(const std::string& run_id) const override {
    return inner_.Backlog(run_id);
  }

 private:
  Status Pass(const std::string& run_id, const AuditEvent& event, bool queue);
  /// Tells the webhooks the run started, once, when run_started has been passed on.
  void NotifyStarted();
  /// Sends `facts`; each webhook's outcome is queued into the run's chain.
  void Notify(const std::string& run_id, NotifyFacts facts);

  AuditSink& inner_;
  Notifier& notifier_;
  const Environment& env_;
  std::mutex mu_;  // guards the facts below
  NotifyFacts run_;  // what run_started said
  std::string cause_;  // the first failure of a forward step
  bool start_pending_ = false;  // run_started passed on, its webhooks not told yet
};

}  // namespace runbook
