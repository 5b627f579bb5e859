// Text for the HTML report (report.h): escaping what the audit log holds, which is whatever
// steps printed, and filling the page template's {{name}} placeholders.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace runbook {

/// `text` with &, <, >, " and ' replaced by entities, terminal control bytes shown as their
/// Unicode control pictures (ESC as U+241B), and invalid UTF-8 replaced by U+FFFD: safe inside
/// an element or a quoted attribute.
std::string HtmlEscape(std::string_view text);

/// Replaces each {{name}} in `tmpl` by values.at(name), in one pass (a value is never scanned
/// for placeholders). A placeholder without a value is left as it is and its name appended
/// to `*missing` when given. Values are inserted verbatim: escape them first.
std::string FillTemplate(std::string_view tmpl, const std::map<std::string, std::string>& values,
                         std::vector<std::string>* missing = nullptr);

/// At most `max` code points of UTF-8 `text`, ending in "…" when cut.
std::string ShortenText(const std::string& text, size_t max);

/// `text` with line breaks replaced by spaces.
std::string SingleLine(std::string text);

}  // namespace runbook
