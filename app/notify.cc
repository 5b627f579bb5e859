#include "app/notify.h"

#include "app/config.h"
#include "engine/loader.h"

namespace runbook {
namespace {

// "deploy-web (production)".
std::string RunbookTitle(const NotifyFacts& f) {
  return f.environment.empty() ? f.runbook : f.runbook + " (" + f.environment + ")";
}

std::string Text(const NotifyFacts& f) {
  const std::string run = RunbookTitle(f) + ": run " + f.run_id;
  const std::string by = f.operator_name.empty() ? "" : " by " + f.operator_name;
  const std::string cause = f.cause.empty() ? "" : ": " + f.cause;
  switch (f.event) {
    case NotifyEvent::kRunStarted:
      return run + " started" + by;
    case NotifyEvent::kRunSucceeded:
      return run + " succeeded" + by;
    case NotifyEvent::kRunAborted:
      return run + " aborted before changing anything" + cause;
    case NotifyEvent::kRunRolledBack:
      return run + " failed and was rolled back" + cause;
    case NotifyEvent::kRollbackFailed:
      return run + " failed and its ROLLBACK FAILED; it needs a person" + cause;
    case NotifyEvent::kApprovalRequested:
      return RunbookTitle(f) + ": plan " + f.plan_id + " requested by " + f.requested_by +
             " waits for approval";
    case NotifyEvent::kApprovalApproved:
      return RunbookTitle(f) + ": plan " + f.plan_id + " is approved" +
             (f.approver.empty() ? "" : " (last approval by " + f.approver + ")");
  }
  return RunbookTitle(f);
}

}  // namespace

nlohmann::json NotifyPayload(const NotifyFacts& f) {
  nlohmann::json j = {{"text", Text(f)}, {"event", NotifyEventName(f.event)}};
  for (auto [key, value] : {std::pair{"run_id", &f.run_id}, std::pair{"runbook", &f.runbook},
                            std::pair{"environment", &f.environment},
                            std::pair{"state", &f.state}, std::pair{"operator", &f.operator_name},
                            std::pair{"cause", &f.cause}, std::pair{"plan_id", &f.plan_id},
                            std::pair{"requested_by", &f.requested_by},
                            std::pair{"approver", &f.approver}}) {
    if (!value->empty()) j[key] = *value;
  }
  if (f.exit_code >= 0) j["exit_code"] = f.exit_code;
  return j;
}

std::string WebhookTargetText(const std::string& url, const Redactor& redactor) {
  const std::string shown = redactor.Redact(url);
  const size_t scheme = shown.find("://");
  if (scheme == std::string::npos) return "***";
  const size_t path = shown.find_first_of("/?#", scheme + 3);
  std::string authority = shown.substr(scheme + 3, path == std::string::npos ? path : path - scheme - 3);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    authority = "***@" + authority.substr(at + 1);
  if (authority.find("***") != std::string::npos && authority.rfind("***@", 0) != 0) return "***";
  std::string text = shown.substr(0, scheme + 3) + authority;
  if (path != std::string::npos) text += "/...";
  return text;
}

Notifier::Notifier(WebhookSender& sender, std::vector<NotifyTarget> targets, TemplateScope scope,
                   Redactor redactor)
    : sender_(sender),
      targets_(std::move(targets)),
      scope_(std::move(scope)),
      redactor_(std::move(redactor)) {}

std::vector<NotificationOutcome> Notifier::Send(const NotifyFacts& facts) {
  std::vector<NotificationOutcome> outcomes;
  const std::string body = redactor_.Redact(NotifyPayload(facts).dump());
  for (const NotifyTarget& target : targets_) {
    if (!target.Wants(facts.event)) continue;
    WebhookPost post;
    post.url = RenderTemplateText(target.webhook, scope_, Quoting::kNone, "", false);
    post.body = body;
    post.timeout = target.timeout;
    post.ca_file = target.ca_file;
    post.insecure = target.insecure;
    const WebhookResult result = sender_.Post(post);
    // Secrets are masked by the redactor; a value from the environment ({{ env.SLACK_URL }},
    // the settings file's way of keeping a URL out of the file) is treated as one too.
    Redactor masks = redactor_;
    Template tmpl;
    TemplateError error;
    if (scope_.env && ParseTemplate(target.webhook, Quoting::kNone, &tmpl, &error)) {
      for (const Template::Piece& piece : tmpl.pieces) {
        if (!piece.is_ref || piece.ref.kind != TemplateRef::Kind::kEnv) continue;
        if (std::string value = scope_.env(piece.ref.name); !value.empty()) masks.Add(value);
      }
    }
    NotificationOutcome outcome;
    outcome.sent = result.ok();
    outcome.detail.event = NotifyEventName(facts.event);
    outcome.detail.target = WebhookTargetText(post.url, masks);
    outcome.detail.status = result.status;
    outcome.detail.duration_ms = static_cast<int64_t>(result.latency.count());
    outcome.detail.error = masks.Redact(result.error);
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

std::vector<NotifyTarget> SettingsNotifyTargets(const Environment& env) {
  Result<Config> config = LoadConfig(env);
  if (!config.ok()) return {};
  return config->notify.targets;
}

std::vector<NotifyTarget> NotifyTargetsFor(const Runbook& runbook, const Environment& env) {
  std::vector<NotifyTarget> targets = runbook.notify;
  for (NotifyTarget& t : SettingsNotifyTargets(env)) targets.push_back(std::move(t));
  return targets;
}

std::vector<NotificationOutcome> NotifyApproval(WebhookSender& sender, const Runbook& runbook,
                                                const std::map<std::string, std::string>& params,
                                                const NotifyFacts& facts, const Environment& env) {
  std::vector<NotifyTarget> targets = NotifyTargetsFor(runbook, env);
  if (targets.empty()) return {};
  TemplateScope scope;
  scope.params = params;
  scope.env = [&env](const std::string& name) { return env.GetEnv(name).value_or(""); };
  Redactor redactor;
  auto secrets = ResolveSecrets(runbook);
  if (secrets.ok()) {
    scope.secrets = *secrets;
    for (const auto& [name, value] : *secrets) redactor.Add(value);
  }
  for (const ParamSpec& p : runbook.params) {
    auto value = params.find(p.name);
    if (p.secret && value != params.end()) redactor.Add(value->second);
  }
  std::vector<NotificationOutcome> failed_secrets;
  if (!secrets.ok()) {
    // A webhook whose URL is a secret this machine does not have cannot be told.
    std::vector<NotifyTarget> reachable;
    for (NotifyTarget& t : targets) {
      if (t.webhook.find("secrets.") == std::string::npos) {
        reachable.push_back(std::move(t));
      } else if (t.Wants(facts.event)) {
        NotificationOutcome outcome;
        outcome.detail.event = NotifyEventName(facts.event);
        outcome.detail.target = "***";
        outcome.detail.error = "the webhook's secret cannot be read here: " + secrets.message();
        failed_secrets.push_back(std::move(outcome));
      }
    }
    targets = std::move(reachable);
  }
  Notifier notifier(sender, std::move(targets), std::move(scope), std::move(redactor));
  std::vector<NotificationOutcome> outcomes = notifier.Send(facts);
  for (NotificationOutcome& o : failed_secrets) outcomes.push_back(std::move(o));
  return outcomes;
}

std::string NotificationProblem(const NotificationOutcome& outcome) {
  return "notification " + outcome.detail.event + " to " + outcome.detail.target +
         " failed: " + outcome.detail.error;
}

}  // namespace runbook
