// Notifications (docs/notifications.md): what a webhook of `notify:` is told, and the
// decisions of when. A notification is a JSON object that Slack-compatible incoming webhooks
// accept — `text` for people — with our own fields beside it for machines:
//
//   {"text": "deploy-web (production): run 20261203T101500Z-3fa9c1 rolled back: step 'migrate'
//             failed: exit status 1",
//    "event": "rolled_back", "run_id": "...", "runbook": "deploy-web",
//    "environment": "production", "state": "rolled_back", "exit_code": 1,
//    "operator": "alice", "cause": "step 'migrate' failed: exit status 1", "plan_id": "..."}
//
// Keys are written when they have a value. A notification never changes what a run does: a
// webhook that fails is recorded (notify_failed) and the run goes on. The webhook's URL
// may be a secret; it is never printed or recorded as it is (WebhookTargetText).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/environment.h"
#include "engine/events.h"
#include "engine/model.h"
#include "engine/redactor.h"
#include "engine/template.h"
#include "engine/webhook_sender.h"

namespace runbook {

/// The facts one notification carries; empty fields are left out of the payload.
struct NotifyFacts {
  NotifyEvent event = NotifyEvent::kRunStarted;
  std::string runbook;
  std::string environment;
  std::string run_id;
  std::string state;
  int exit_code = -1;  // -1: not a run's end
  std::string operator_name;
  std::string cause;  // why a run failed (redacted)
  std::string plan_id;
  std::string requested_by;
  std::string approver;
};

/// The JSON body posted for `facts`.
nlohmann::json NotifyPayload(const NotifyFacts& facts);

/// The webhook as output and records show it: `scheme://host[:port]/...`, the path and query
/// left out (an incoming webhook's path is its credential), or `***` when the URL is a secret.
std::string WebhookTargetText(const std::string& url, const Redactor& redactor);

/// One webhook told (or not) about one event.
struct NotificationOutcome {
  bool sent = false;
  NotificationDetail detail;
};

/// Sends notifications to the webhooks that want them. Not thread-safe.
class Notifier {
 public:
  /// `sender` must outlive the notifier. `scope` renders the webhooks' URLs (params, secrets,
  /// run id, env); every secret of `redactor` is masked in what the outcomes say.
  Notifier(WebhookSender& sender, std::vector<NotifyTarget> targets, TemplateScope scope,
           Redactor redactor);

  bool empty() const { return targets_.empty(); }
  /// Posts `facts` to every webhook that wants its event, one after the other, each within
  /// its timeout. Never fails: what went wrong is in the outcomes.
  std::vector<NotificationOutcome> Send(const NotifyFacts& facts);

 private:
  WebhookSender& sender_;
  std::vector<NotifyTarget> targets_;
  TemplateScope scope_;
  Redactor redactor_;
};

/// The webhooks of the settings file's `notify:` (app/config.h); none when there is no file or
/// it does not load (the command line reports that before anything runs).
std::vector<NotifyTarget> SettingsNotifyTargets(const Environment& env);

/// The webhooks a runbook's events go to: the runbook's own, then the settings file's.
std::vector<NotifyTarget> NotifyTargetsFor(const Runbook& runbook, const Environment& env);

/// Tells the webhooks of `runbook` (and the settings file's) about an approval event
/// (approval_requested, approved) of one of its plans, with the runbook's secrets
/// resolved here and `params` the plan's. The plan store keeps no chain, so the outcomes go
/// back to the caller to show (docs/notifications.md).
std::vector<NotificationOutcome> NotifyApproval(WebhookSender& sender, const Runbook& runbook,
                                                const std::map<std::string, std::string>& params,
                                                const NotifyFacts& facts, const Environment& env);

/// "notification approved to https://hooks.example/... failed: HTTP 500".
std::string NotificationProblem(const NotificationOutcome& outcome);

}  // namespace runbook
