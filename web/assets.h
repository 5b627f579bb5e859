// The stylesheet and the one script of `runbook serve`, compiled in and served from the same
// origin (/static/...), so that no page loads anything from elsewhere and the Content
// Security Policy can forbid inline script.
#pragma once

#include <string_view>

namespace runbook::web {

/// /static/style.css
extern const std::string_view kStyleCss;
/// /static/live.js: refreshes a run page (and the run lists) from their JSON while a run goes.
extern const std::string_view kLiveJs;

}  // namespace runbook::web
