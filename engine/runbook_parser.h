// Reads the top level of a runbook (SPEC §1) into the model: name, risk, lock, approval,
// params, secrets, targets and defaults, then the step lists through StepParser, and finally
// the checks that need the whole runbook (references to steps).
#pragma once

#include <string>

#include "engine/model.h"
#include "engine/yaml_reader.h"

namespace runbook {

/// Fills `out` from the document's root node, reporting every problem to `reader`.
/// `out->dir` must be set: relative paths resolve against it.
void ParseRunbook(const YamlNode& root, YamlReader& reader, Runbook* out, bool read_files);

}  // namespace runbook
