// Text for the HTML report (postmortem_report.h): escaping what the audit log holds, which is
// whatever steps printed (the document renderer's HTML escaping), and shortening it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace runbook {

/// `text` with &, <, >, " and ' replaced by entities, terminal control bytes shown as their
/// Unicode control pictures (ESC as U+241B), and invalid UTF-8 replaced by U+FFFD: safe inside
/// an element or a quoted attribute.
std::string HtmlEscape(std::string_view text);

/// At most `max` code points of UTF-8 `text`, ending in "…" when cut.
std::string ShortenText(const std::string& text, size_t max);

/// `text` with line breaks replaced by spaces.
std::string SingleLine(std::string text);

}  // namespace runbook
