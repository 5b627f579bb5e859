#include "engine/describe.h"

#include <variant>

namespace runbook {
namespace {

// Hosts named in a banner at most; more are counted only.
constexpr size_t kNamedHosts = 5;

std::string Hosts(const SshAction& a, const std::vector<std::string>* only) {
  const size_t n = a.resolved.hosts.size();
  const std::string ssh = a.target.empty() ? std::string("ssh") : "ssh " + a.target;
  if (only == nullptr || only->size() == n)
    return ssh + " (" + std::to_string(n) + (n == 1 ? " host" : " hosts") + ")";
  std::string names;
  for (size_t i = 0; i < only->size() && i < kNamedHosts; ++i)
    names += (i == 0 ? ": " : ", ") + (*only)[i];
  if (only->size() > kNamedHosts) names += ", ...";
  return ssh + " (" + std::to_string(only->size()) + " of " + std::to_string(n) +
         (n == 1 ? " host" : " hosts") + names + ")";
}

}  // namespace

std::string DescribeAction(const Action& action, const FieldRenderer& render,
                           const std::vector<std::string>* ssh_hosts) {
  switch (KindOf(action)) {
    case ActionKind::kShell:
      return render(std::get<ShellAction>(action).command, Quoting::kShell);
    case ActionKind::kSsh: {
      const auto& a = std::get<SshAction>(action);
      return Hosts(a, ssh_hosts) + ": " + render(a.command, Quoting::kShell);
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
