// The `notify:` block of a runbook (docs/notifications.md): a list of webhooks, each with the
// events it is told about, a timeout and the http action's TLS options.
//
//   notify:
//     - url: "{{ secrets.slack_url }}"
//       on: [run_started, succeeded, rolled_back, rollback_failed]
//       timeout: 5s
#pragma once

#include <vector>

#include "engine/model.h"
#include "engine/validator.h"
#include "engine/yaml_reader.h"

namespace runbook {

/// Reads `field` (the value of `notify:`) into `out`, reporting errors located in the runbook
/// through `reader`. The webhook may name params, secrets, env and the run id, never a step:
/// it is rendered before and after the steps run.
void ParseNotify(const YamlField& field, YamlReader& reader, Validator& validator,
                 std::vector<NotifyTarget>* out);

}  // namespace runbook
