// How a template reference is written back for messages: "{{ steps.build.outputs.tag }}".
#pragma once

#include <string>

#include "engine/template.h"

namespace runbook {

/// The canonical text of `ref`, with "raw " when it is raw: "{{ raw params.v }}".
std::string PlaceholderText(const TemplateRef& ref);

}  // namespace runbook
