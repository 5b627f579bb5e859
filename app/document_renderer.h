// The one renderer of runbook's documents (templates/postmortem.html, templates/change-request.md):
// a Mustache template (https://mustache.github.io/mustache.5.html, rendered by kainjow/mustache)
// filled from a JSON context.
//
// What a template can use: {{name}} inserts a value, escaped for the document's format;
// {{{name}}} (or {{&name}}) inserts it verbatim; {{#name}}...{{/name}} repeats its body for each
// item of a list, or shows it once when the value is true, an object, a string or a number;
// {{^name}}...{{/name}} shows its body when the value is false, null, an empty string or an
// empty list (as in mustache.js); {{a.b}} looks inside objects; {{.}} is the current item;
// {{! ...}} is a comment. A line that holds only section or comment tags leaves no blank line.
// Names not in the context render as nothing. Partials and lambdas are not offered.
// docs/templates.md lists each document's context keys.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/status.h"

namespace runbook {

/// How {{name}} escapes what it inserts.
enum class Escaping {
  /// For HTML: &, <, >, " and ' as entities, terminal control bytes as their Unicode control
  /// pictures and invalid UTF-8 as U+FFFD (HtmlEscape in html.h).
  kHtml,
  /// For text and Markdown: values as they are.
  kNone,
};

/// A template and what messages call it.
struct DocumentTemplate {
  std::string name;  // the file as the operator gave it, or "built-in postmortem.html"
  std::string text;
};

/// `tmpl` rendered with `context`. A template that does not parse is a kInvalid error,
/// "NAME:LINE:COL: error: unclosed section "steps"", never an exception.
Result<std::string> RenderDocument(const DocumentTemplate& tmpl, const nlohmann::json& context,
                                   Escaping escaping);

/// The template in the file at `path` (`--template F`), checked: kNotFound or kIOError when it
/// cannot be read, kInvalid (as RenderDocument) when it does not parse, so that a command can
/// refuse it before it changes anything.
Result<DocumentTemplate> ReadTemplateFile(const std::string& path);

}  // namespace runbook
