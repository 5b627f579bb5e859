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
