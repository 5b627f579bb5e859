// Reads the value of an action key (shell:, ssh:, kubectl:, http:) into an Action, resolving
// named targets and checking every template field with the quoting it is rendered with.
#pragma once

#include <string_view>

#include "engine/model.h"
#include "engine/validator.h"
#include "engine/yaml_reader.h"

namespace runbook {

/// The action keys, in the order messages list them.
inline constexpr std::string_view kActionKeys[] = {"shell", "ssh", "kubectl", "http"};

/// The keys an SSH target accepts (also inline in an ssh action), and a Kubernetes target's.
inline constexpr std::string_view kSshTargetKeys[] = {"hosts",
                                                      "user",
                                                      "port",
                                                      "identity_file",
                                                      "passphrase_secret",
                                                      "known_hosts",
                                                      "host_key_checking",
                                                      "connect_timeout",
                                                      "keepalive"};
inline constexpr std::string_view kKubeTargetKeys[] = {"kubeconfig", "context", "namespace"};

/// What an http action says about the step's attempts: its `retries`, `interval` and
/// `timeout` are the step's retries, retry_delay and timeout.
struct HttpTiming {
  const YamlField* retries = nullptr;
  const YamlField* interval = nullptr;
  const YamlField* timeout = nullptr;
};

/// An SSH target with every default filled in: $USER (or root), port 22,
/// ~/.ssh/known_hosts, a 10s connect timeout.
SshTarget DefaultSshTarget();

/// Applies the SSH target keys present in `fields` over `target` (paths resolved against the
/// runbook folder). Returns false if any was invalid (already reported).
bool ReadSshTargetFields(const YamlFields& fields, Validator& v, SshTarget* target);
/// The same for Kubernetes keys.
bool ReadKubeTargetFields(const YamlFields& fields, Validator& v, KubeTarget* target);

/// "web1", "web2:2222", "10.0.0.1", "[::1]:22", "::1".
bool ValidHost(std::string_view host);

/// Reads one action. `field` is the action key and its value; templates are checked as seen
/// from `pos`. For http, the timing keys are left in `timing` (their YamlFields live in
/// `storage`, which must outlive `timing`). Returns false when the action is unusable.
bool ParseAction(const YamlField& field, const StepPosition& pos, const Runbook& runbook,
                 Validator& v, Action* out, YamlFields* storage, HttpTiming* timing);

}  // namespace runbook
