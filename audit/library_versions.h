// The versions of the libraries the audit stores link, as they report them at run time (for
// `runbook --version`).
#pragma once

#include <string>

namespace runbook {

/// SQLite's version, e.g. "3.40.1".
std::string SqliteVersion();
/// libpq's version, e.g. "15.5".
std::string LibpqVersion();

}  // namespace runbook
