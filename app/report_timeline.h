// The timeline picture of the post-mortem report (report.h): one bar per step attempt and
// rollback action on a time axis from the start of the run, drawn as an inline SVG that needs
// no script, font or stylesheet of its own.
#pragma once

#include <string>
#include <vector>

#include "audit/audit_records.h"

namespace runbook {

/// One bar of the timeline: one attempt of a step, check or rollback action.
struct TimelineBar {
  std::string phase;       // precheck | step | verify | rollback
  std::string step;        // the step id as recorded
  std::string label;       // what the bar is called: "migrate", "migrate #2", "undo migrate"
  int attempt = 0;         // 1, 2, ...; 0 for a step that failed before its first attempt
  long long start_ms = 0;  // from the start of the run
  long long end_ms = 0;    // >= start_ms
  /// succeeded | failed | unfinished (no attempt_finished: the executor died or is still
  /// running; the bar then ends at the last recorded event).
  std::string outcome;
  std::string error;  // detail.error of a failed attempt, else ""
};

/// The bars of `events` (one run's, in seq order), in the order their attempts started.
std::vector<TimelineBar> TimelineBars(const StoredRun& run, const std::vector<StoredEvent>& events);

/// The inline <svg> element drawing `bars` on a time axis of `total_ms`: one row per bar,
/// labelled with its step id, filled by phase, outlined (and hatched when failed) by outcome,
/// with a <title> tooltip on each bar.
std::string TimelineSvg(const std::vector<TimelineBar>& bars, long long total_ms);

}  // namespace runbook
