#include "engine/model.h"

namespace runbook {

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPrecheck:
      return "precheck";
    case Phase::kStep:
      return "step";
    case Phase::kVerify:
      return "verify";
    case Phase::kRollback:
      return "rollback";
  }
  return "?";
}

std::string FoldName(std::string_view name) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!name.empty() && space(name.front())) name.remove_prefix(1);
  while (!name.empty() && space(name.back())) name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool ValidPersonName(std::string_view folded) {
  if (folded.empty() || folded.size() > 64) return false;
  for (size_t i = 0; i < folded.size(); ++i) {
    const char c = folded[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::string ApprovalRule::Describe() const {
  std::string out = role;
  std::string when;
  if (!when_environment.empty()) when = "environment is " + when_environment;
  if (!when_param.empty())
    when += (when.empty() ? "" : " and ") + when_param + " = " + when_equals;
  return when.empty() ? out : out + " when " + when;
}

const char* RiskName(Risk risk) {
  switch (risk) {
    case Risk::kLow:
      return "low";
    case Risk::kMedium:
      return "medium";
    case Risk::kHigh:
      return "high";
  }
  return "?";
}

namespace {

struct KindOfAction {
  ActionKind operator()(const ShellAction&) const { return ActionKind::kShell; }
  ActionKind operator()(const SshAction&) const { return ActionKind::kSsh; }
  ActionKind operator()(const KubectlAction&) const { return ActionKind::kKubectl; }
  ActionKind operator()(const HttpAction&) const { return ActionKind::kHttp; }
};

}  // namespace

ActionKind KindOf(const Action& action) { return std::visit(KindOfAction{}, action); }

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kShell:
      return "shell";
    case ActionKind::kSsh:
      return "ssh";
    case ActionKind::kKubectl:
      return "kubectl";
    case ActionKind::kHttp:
      return "http";
  }
  return "?";
}

const char* NotifyEventName(NotifyEvent event) {
  switch (event) {
    case NotifyEvent::kRunStarted:
      return "run_started";
    case NotifyEvent::kRunSucceeded:
      return "succeeded";
    case NotifyEvent::kRunAborted:
      return "aborted";
    case NotifyEvent::kRunRolledBack:
      return "rolled_back";
    case NotifyEvent::kRollbackFailed:
      return "rollback_failed";
    case NotifyEvent::kApprovalRequested:
      return "approval_requested";
    case NotifyEvent::kApprovalApproved:
      return "approved";
  }
  return "?";
}

std::optional<NotifyEvent> ParseNotifyEvent(std::string_view name) {
  for (int i = 0; i < kNotifyEventCount; ++i) {
    const auto event = static_cast<NotifyEvent>(i);
    if (name == NotifyEventName(event)) return event;
  }
  return std::nullopt;
}

bool NotifyTarget::Wants(NotifyEvent event) const {
  if (events.empty()) return true;
  for (NotifyEvent e : events)
    if (e == event) return true;
  return false;
}

namespace {

const StepSpec* FindIn(const std::vector<StepSpec>& steps, const std::string& id) {
  for (const StepSpec& step : steps) {
    if (step.id == id) return &step;
    for (const StepSpec& action : step.rollback.actions) {
      if (action.id == id) return &action;
    }
  }
  return nullptr;
}

}  // namespace

const StepSpec* Runbook::FindStep(const std::string& id) const {
  for (const std::vector<StepSpec>* phase : {&prechecks, &steps, &verify, &rollback}) {
    if (const StepSpec* found = FindIn(*phase, id)) return found;
  }
  return nullptr;
}

}  // namespace runbook
