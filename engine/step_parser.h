// Reads the step lists of a runbook (prechecks, steps, verify, rollback) into StepSpecs:
// exactly one action per step, ids (required in `steps`, generated elsewhere), timing with
// the runbook's defaults applied, outputs, and the per-step rollback.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/validator.h"
#include "engine/yaml_reader.h"

namespace runbook {

/// Reads step lists. `runbook` must already hold targets and defaults.
class StepParser {
 public:
  StepParser(const Runbook& runbook, Validator* v) : runbook_(runbook), v_(*v) {}
  StepParser(const StepParser&) = delete;
  StepParser& operator=(const StepParser&) = delete;

  /// Reads the list under `field` (an empty value is an empty list) as steps of `phase`.
  /// Phase::kRollback reads the global rollback list.
  void ParseList(const YamlField& field, Phase phase, std::vector<StepSpec>* out);

 private:
  /// Reads one step; false when `node` is not a mapping (then nothing is added).
  bool ParseStep(const YamlNode& node, SourceLoc fallback, const StepPosition& pos, Phase phase,
                 const std::string& generated_id, StepSpec* out);
  void ParseRollback(const YamlField& field, int step_index, StepSpec* step);
  /// `kind` is the step's action, or nullopt when it has none (then any source is taken).
  void ParseOutputs(const YamlField& field, std::optional<ActionKind> kind, StepSpec* step);

  const Runbook& runbook_;
  Validator& v_;
};

}  // namespace runbook
