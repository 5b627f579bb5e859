// The change request: the plan document (engine/plan.h BuildPlan, the document as data)
// rendered for a reviewer through templates/change-request.md, or through a template the
// operator gives (`runbook plan FILE --template F`). docs/templates.md lists the context.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/document_renderer.h"
#include "engine/status.h"

namespace runbook {

/// What the change-request template is rendered with: the plan document's keys as they are,
/// plus what a Mustache template cannot work out itself (has_params, step_lists with their
/// items numbered, each description as lines, approvers_text, ...). A stored document of an
/// older version, missing keys, still gives a full context.
nlohmann::json ChangeRequestContext(const nlohmann::json& plan);

/// The plan as text for a reviewer: `custom`, or the built-in templates/change-request.md,
/// rendered with ChangeRequestContext(plan). kInvalid when `custom` does not parse.
Result<std::string> RenderChangeRequest(const nlohmann::json& plan,
                                        const std::optional<DocumentTemplate>& custom = {});

}  // namespace runbook
