// The change request as data: what a run of a runbook with given params will do, as a JSON
// document a machine can check and app/change_request.h renders for a reviewer, with a hash
// that binds approvals to exactly this runbook and these params.
#pragma once

#include "engine/sha256.h"  // Sha256Hex, used with plan hashes

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/bound_file.h"
#include "engine/model.h"
#include "engine/state_machine.h"

namespace runbook {

/// sha256 (hex) over the canonical runbook (its YAML as sorted, compact JSON: comments and
/// layout do not count), the bound params and the bound files (path, use and sha256 of each,
/// in their sorted order; left out when there are none, so that a plan of a runbook that uses
/// no file keeps the hash it had before files were bound). Any change to what would run
/// changes it.
std::string PlanHash(const Runbook& runbook, const std::map<std::string, std::string>& params,
                     const std::vector<BoundFile>& files);

inline constexpr char kSecretParamMask[] = "***";
/// `params` with the value of every `secret: true` param replaced by `***`: what a plan
/// shows and stores.
std::map<std::string, std::string> MaskSecretParams(const Runbook& runbook,
                                                    std::map<std::string, std::string> params);

/// The plan document: overview, params, prechecks, steps with their rollbacks, verification,
/// global rollback, warnings (irreversible steps, raw placeholders, insecure TLS), known
/// issues, approval policy, state count and hash. `plan_id` and `requested_by` are added by
/// the caller.
/// How a plan learns which cluster a kubectl step will talk to without contacting it (the
/// cli reads the kubeconfig): returns "context (namespace ns, server URL)" or an error text.
using KubeTargetDescriber = std::function<std::string(const KubeTarget&)>;

/// `bound` is what app/bound_files.h collected: its files are listed (`files`) and hashed,
/// what it could not bind is a warning.
nlohmann::json BuildPlan(const Runbook& runbook, const StateMachine& machine,
                         const std::map<std::string, std::string>& params,
                         const KubeTargetDescriber& describe_kube = {},
                         const BoundInputs& bound = {});


}  // namespace runbook
