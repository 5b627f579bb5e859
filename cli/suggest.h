// "Did you mean ...?" for a mistyped command or flag.
#pragma once

#include <string>
#include <vector>

namespace runbook::cli {

/// The candidate closest to `typed` by edit distance (insertions, deletions, substitutions
/// and swaps of neighbours), if it is close enough to be what was meant: at most 2 edits,
/// and fewer than half its length. "" when none is.
std::string Closest(const std::string& typed, const std::vector<std::string>& candidates);

}  // namespace runbook::cli
