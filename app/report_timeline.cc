#include "app/report_timeline.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>

#include "app/html.h"
#include "app/postmortem_sections.h"
#include "audit/audit_format.h"
#include "audit/audit_time.h"

namespace runbook {

namespace {

// The timeline's colours; the same values as the CSS variables of templates/postmortem.html,
// written out here so that the SVG also reads right when copied out of the page.
constexpr const char* kFailedColour = "#c9302c";
constexpr const char* kOkColour = "#2e8540";
constexpr const char* kMutedColour = "#5f6b76";
constexpr const char* kGridColour = "#d8dee4";

const char* PhaseColour(const std::string& phase) {
  if (phase == "precheck") return "#7c8ea3";
  if (phase == "verify") return "#8a5cc7";
  if (phase == "rollback") return "#d98a1c";
  return "#2f7fd1";  // step, and anything newer
}

// Timeline geometry, in px.
constexpr int kPlotWidth = 760;
constexpr int kRowHeight = 22;
constexpr int kBarHeight = 14;
constexpr int kAxisHeight = 26;
constexpr int kNoteWidth = 260;   // room right of the plot for the duration and error note
constexpr size_t kMaxLabel = 40;  // characters

// An axis tick: 0s, 0.25s, 1.5s, 30s, 2m, 1m30s.
std::string TickLabel(long long ms, long long step) {
  if (ms == 0) return "0s";
  char buf[40];
  if (step < 1000) {
    std::snprintf(buf, sizeof buf, "%.*fs",
                  step % 100 == 0  ? 1
                  : step % 10 == 0 ? 2
                                   : 3,
                  static_cast<double>(ms) / 1000.0);
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  } else if (ms % 60000 == 0) {
    std::snprintf(buf, sizeof buf, "%lldm", ms / 60000);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", ms / 60000, (ms % 60000) / 1000);
  }
  return buf;
}

// A step of 1, 2 or 5 times a power of ten, giving at most 8 intervals over `total`.
long long TickStep(long long total) {
  long long power = 1;
  while (true) {
    for (long long m : {1, 2, 5}) {
      if (total / (m * power) <= 8) return m * power;
    }
    power *= 10;
  }
}

std::string Px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::vector<TimelineBar> TimelineBars(const StoredRun& run,
                                      const std::vector<StoredEvent>& events) {
  struct StepState {
    std::string label;
    long long started_ms = 0;
    int attempts = 0;
  };
  std::vector<TimelineBar> bars;
  std::map<std::pair<std::string, std::string>, StepState> steps;
  std::map<std::tuple<std::string, std::string, int>, size_t> open;  // attempt -> bar
  long long last_ms = 0;
  for (const StoredEvent& e : events) {
    const long long at = EventOffsetMs(run, e).value_or(last_ms);
    last_ms = std::max(last_ms, at);
    const auto key = std::make_pair(e.phase, e.step);
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) {
      const std::string undoes = DetailText(e.detail, "undoes");
      steps[key] = {undoes.empty() ? e.step : "undo " + undoes, at, 0};
    } else if (e.is(EventKind::kAttemptStarted)) {
      StepState& s = steps[key];
      if (s.label.empty()) s.label = e.step;
      ++s.attempts;
      TimelineBar bar;
      bar.phase = e.phase;
      bar.step = e.step;
      bar.attempt = e.attempt;
      bar.label = s.label + (e.attempt > 1 ? " #" + std::to_string(e.attempt) : "");
      bar.start_ms = bar.end_ms = at;
      bar.outcome = "unfinished";
      open[{e.phase, e.step, e.attempt}] = bars.size();
      bars.push_back(std::move(bar));
    } else if (e.is(EventKind::kAttemptFinished)) {
      auto it = open.find({e.phase, e.step, e.attempt});
      if (it == open.end()) continue;
      TimelineBar& bar = bars[it->second];
      bar.end_ms = std::max(bar.start_ms, at);
      const std::string outcome = DetailText(e.detail, "outcome");
      const std::string error = DetailText(e.detail, "error");
      const bool ok = outcome.empty() ? error.empty() : outcome == "succeeded";
      bar.outcome = ok ? "succeeded" : "failed";
      bar.error = ok ? "" : (error.empty() ? outcome : error);
      open.erase(it);
    } else if (e.is(EventKind::kStepSucceeded) || e.is(EventKind::kStepFailed) ||
               e.is(EventKind::kRollbackSucceeded) || e.is(EventKind::kRollbackFailed)) {
      auto it = steps.find(key);
      if (it == steps.end() || it->second.attempts > 0) continue;
      // Ended without any attempt (it could not even start): one bar for the step.
      TimelineBar bar;
      bar.phase = e.phase;
      bar.step = e.step;
      bar.label = it->second.label;
      bar.start_ms = it->second.started_ms;
      bar.end_ms = std::max(bar.start_ms, at);
      const bool ok = e.is(EventKind::kStepSucceeded) || e.is(EventKind::kRollbackSucceeded);
      bar.outcome = ok ? "succeeded" : "failed";
      bar.error = DetailText(e.detail, "error");
      bars.push_back(std::move(bar));
    }
  }
  const long long end = std::max(last_ms, RunDurationMs(run).value_or(0));
  for (const auto& [attempt, index] : open)
    bars[index].end_ms = std::max(bars[index].start_ms, end);
  std::stable_sort(bars.begin(), bars.end(), [](const TimelineBar& a, const TimelineBar& b) {
    return a.start_ms < b.start_ms;
  });
  return bars;
}

std::string TimelineSvg(const std::vector<TimelineBar>& bars, long long total_ms) {
  for (const TimelineBar& b : bars) total_ms = std::max(total_ms, b.end_ms);
  total_ms = std::max(total_ms, 1LL);
  size_t longest = 8;
  for (const TimelineBar& b : bars)
    longest = std::max(longest, std::min(kMaxLabel, ShortenText(b.label, kMaxLabel).size()));
  const int label_width = static_cast<int>(std::min<size_t>(longest * 7 + 20, 320));
  const int rows = static_cast<int>(std::max<size_t>(bars.size(), 1));
  const int width = label_width + kPlotWidth + kNoteWidth;
  const int height = kAxisHeight + rows * kRowHeight + 8;
  auto x = [&](long long ms) {
    return label_width + static_cast<double>(ms) * kPlotWidth / static_cast<double>(total_ms);
  };

  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                  "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                  std::to_string(width) + " " + std::to_string(height) +
                  "\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" "
                  "aria-labelledby=\"rb-timeline-title rb-timeline-desc\">\n";
  // What a screen reader says, and what a printed page keeps when the picture is lost.
  int failed = 0, rollbacks = 0;
  for (const TimelineBar& b : bars) {
    failed += b.outcome == "failed";
    rollbacks += b.phase == "rollback";
  }
  s += "<title id=\"rb-timeline-title\">Timeline of the run's step attempts and rollback "
       "actions</title>\n";
  const int forward = static_cast<int>(bars.size()) - rollbacks;
  s += "<desc id=\"rb-timeline-desc\">" + std::to_string(bars.size()) + " bar(s) over " +
       FormatDurationMs(total_ms) + ": " + std::to_string(forward) +
       " attempt(s) of prechecks, steps and checks, " + std::to_string(rollbacks) +
       " rollback action attempt(s); " + std::to_string(failed) + " failed.</desc>\n";
  s += "<defs><pattern id=\"rb-hatch\" width=\"6\" height=\"6\" "
       "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"3\" "
       "height=\"6\" fill=\"" +
       std::string(kFailedColour) + "\" fill-opacity=\"0.55\"/></pattern></defs>\n";

  // Axis and grid.
  const long long step = TickStep(total_ms);
  for (long long t = 0; t <= total_ms; t += step) {
    const std::string tx = Px(x(t));
    s += "<line x1=\"" + tx + "\" y1=\"" + std::to_string(kAxisHeight - 6) + "\" x2=\"" + tx +
         "\" y2=\"" + std::to_string(height - 4) + "\" stroke=\"" + kGridColour + "\"/>\n";
    s += "<text x=\"" + tx + "\" y=\"" + std::to_string(kAxisHeight - 10) +
         "\" text-anchor=\"middle\" fill=\"" + kMutedColour + "\">" + TickLabel(t, step) +
         "</text>\n";
  }
  if (bars.empty()) {
    s += "<text x=\"" + std::to_string(label_width) + "\" y=\"" + std::to_string(kAxisHeight + 15) +
         "\" fill=\"" + kMutedColour + "\">no step ran</text>\n";
  }

  int row = 0;
  for (const TimelineBar& b : bars) {
    const int top = kAxisHeight + row * kRowHeight;
    const int bar_top = top + (kRowHeight - kBarHeight) / 2;
    const double x0 = x(b.start_ms);
    const double w = std::max(2.0, x(b.end_ms) - x0);
    const long long took = b.end_ms - b.start_ms;
    std::string tip = b.label + " (" + b.phase +
                      (b.attempt > 0 ? ", attempt " + std::to_string(b.attempt) : "") +
                      "): " + b.outcome + " after " + FormatDurationMs(took) + ", from +" +
                      FormatDurationMs(b.start_ms);
    if (!b.error.empty()) tip += "; " + SingleLine(b.error);

    s += "<g class=\"bar phase-" + HtmlEscape(b.phase) + " outcome-" + b.outcome + "\">";
    s += "<title>" + HtmlEscape(ShortenText(tip, 400)) + "</title>";
    if (row % 2 == 1) {
      s += "<rect x=\"0\" y=\"" + std::to_string(top) + "\" width=\"" + std::to_string(width) +
           "\" height=\"" + std::to_string(kRowHeight) + "\" fill=\"#f5f7f9\"/>";
    }
    s += "<text x=\"" + std::to_string(label_width - 8) + "\" y=\"" + std::to_string(top + 15) +
         "\" text-anchor=\"end\">" + HtmlEscape(ShortenText(b.label, kMaxLabel)) + "</text>";
    const std::string rect_geometry = "x=\"" + Px(x0) + "\" y=\"" + std::to_string(bar_top) +
                                      "\" width=\"" + Px(w) + "\" height=\"" +
                                      std::to_string(kBarHeight) + "\" rx=\"2\"";
    if (b.outcome == "succeeded") {
      s += "<rect " + rect_geometry + " fill=\"" + PhaseColour(b.phase) + "\" stroke=\"" +
           kOkColour + "\" stroke-width=\"1.5\"/>";
    } else if (b.outcome == "failed") {
      s += "<rect " + rect_geometry + " fill=\"" + PhaseColour(b.phase) + "\"/>";
      s += "<rect " + rect_geometry + " fill=\"url(#rb-hatch)\" stroke=\"" + kFailedColour +
           "\" stroke-width=\"2\"/>";
    } else {
      s += "<rect " + rect_geometry + " fill=\"" + PhaseColour(b.phase) +
           "\" fill-opacity=\"0.35\" stroke=\"" + kMutedColour + "\" stroke-dasharray=\"4 2\"/>";
    }
    std::string note = FormatDurationMs(took);
    if (b.outcome != "succeeded") note += " " + b.outcome;
    if (!b.error.empty()) note += ": " + ShortenText(SingleLine(b.error), 40);
    s += "<text x=\"" + Px(x0 + w + 6) + "\" y=\"" + std::to_string(top + 15) + "\" fill=\"" +
         (b.outcome == "failed" ? kFailedColour : kMutedColour) + "\">" + HtmlEscape(note) +
         "</text>";
    s += "</g>\n";
    ++row;
  }
  s += "</svg>";
  return s;
}

}  // namespace runbook
