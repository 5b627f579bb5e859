#include "engine/describe.h"

#include <variant>

namespace runbook {
namespace {

std::string Hosts(const SshAction& a) {
  const size_t n = a.resolved.hosts.size();
  return (a.target.empty() ? std::string("ssh") : "ssh " + a.target) + " (" + std::to_string(n) +
         (n == 1 ? " host" : " hosts") + ")";
}

}  // namespace

std::string DescribeAction(const Action& action, const FieldRenderer& render) {
  switch (KindOf(action)) {
    case ActionKind::kShell:
      return render(std::get<ShellAction>(action).command, Quoting::kShell);
    case ActionKind::kSsh: {
      const auto& a = std::get<SshAction>(action);
      return Hosts(a) + ": " + render(a.command, Quoting::kShell);
    }
    case ActionKind::kKubectl: {
      const auto& a = std::get<KubectlAction>(action);
      std::string s = "kubectl";
      if (!a.target.empty()) s += " [" + a.target + "]";
      if (!a.apply.empty()) {
        s += " apply -f " + render(a.apply, Quoting::kNone);
      } else {
        for (const auto& arg : a.args) s += " " + render(arg, Quoting::kNone);
      }
      return s;
    }
    case ActionKind::kHttp: {
      const auto& a = std::get<HttpAction>(action);
      return a.method + " " + render(a.url, Quoting::kNone);
    }
  }
  return "";
}

std::string DescribeActionTemplate(const Action& action) {
  return DescribeAction(action, [](std::string_view t, Quoting) { return std::string(t); });
}

}  // namespace runbook
