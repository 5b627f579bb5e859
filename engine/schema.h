// The runbook format as a JSON Schema (draft-07), for editors: the YAML language server uses
// it for completion, hover descriptions and early errors. It mirrors what the loader accepts;
// checks a schema cannot express (templates, ids referenced before use) stay in the loader.
#pragma once

#include <string>

namespace runbook {

/// The JSON Schema document of the runbook format, pretty-printed.
std::string RunbookJsonSchema();

}  // namespace runbook
