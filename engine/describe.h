// One-line descriptions of actions, for plans, progress lines and dry runs.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/template.h"

namespace runbook {

/// Renders a template field; a display renderer masks secrets.
using FieldRenderer = std::function<std::string(std::string_view tmpl, Quoting quoting)>;

/// "echo hi", "ssh web (3 hosts): systemctl restart app", "kubectl apply -f web.yaml",
/// "GET https://web/health". Fields are passed through `render`. `ssh_hosts`, when given,
/// are the hosts an ssh action runs on this time, when fewer than its target's (a rollback
/// runs only where its step ran): "ssh web (1 of 3 hosts: web2): ...".
std::string DescribeAction(const Action& action, const FieldRenderer& render,
                           const std::vector<std::string>* ssh_hosts = nullptr);

/// The same with templates shown as written.
std::string DescribeActionTemplate(const Action& action);

}  // namespace runbook
