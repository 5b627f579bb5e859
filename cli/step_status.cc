#include "cli/step_status.h"

#include <utility>

#include "engine/loader.h"

namespace runbook::cli {

void StepStatus::Start(std::string step_id, int attempt, int max_attempts, Duration timeout,
                       TimePoint now) {
  running_ = true;
  step_id_ = std::move(step_id);
  attempt_ = attempt;
  max_attempts_ = max_attempts;
  timeout_ = timeout;
  started_ = now;
  hosts_done_ = hosts_total_ = hosts_failed_ = 0;
  shown_ = false;
  last_text_.clear();
  plain_lines_ = 0;
}

void StepStatus::SetHosts(int done, int total, int failed) {
  hosts_done_ = done;
  hosts_total_ = total;
  hosts_failed_ = failed;
}

std::optional<std::string> StepStatus::LiveDue(TimePoint now) {
  if (!running_ || now - started_ < timing_.show_after) return std::nullopt;
  if (shown_ && now - last_draw_ < timing_.redraw_every) return std::nullopt;
  std::string text = step_id_ + " … " + Facts(WholeSeconds(now));
  if (shown_ && text == last_text_) return std::nullopt;
  shown_ = true;
  last_draw_ = now;
  last_text_ = text;
  return text;
}

std::optional<std::string> StepStatus::LiveNow(TimePoint now) {
  if (!running_ || !shown_) return std::nullopt;
  last_draw_ = now;
  last_text_ = step_id_ + " … " + Facts(WholeSeconds(now));
  return last_text_;
}

std::optional<std::string> StepStatus::PlainDue(TimePoint now) {
  if (!running_ || timing_.plain_every.count() <= 0) return std::nullopt;
  // One line per whole interval of the step's time; a late tick catches up with one line.
  const auto intervals = static_cast<int>((now - started_) / timing_.plain_every);
  if (intervals <= plain_lines_) return std::nullopt;
  plain_lines_ = intervals;
  // The interval's end rather than the tick's time: "10s", not "10.1s".
  return step_id_ + " … still running: " + Facts(intervals * timing_.plain_every);
}

Duration StepStatus::WholeSeconds(TimePoint now) const {
  // A line that changes ten times a second is hard to read.
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration_cast<std::chrono::seconds>(now - started_));
}

std::string StepStatus::Facts(Duration elapsed) const {
  std::string text = FormatDuration(elapsed);
  if (timeout_.count() > 0) text += " (timeout " + FormatDuration(timeout_) + ")";
  if (hosts_total_ > 1) {
    text += ", " + std::to_string(hosts_done_) + "/" + std::to_string(hosts_total_) + " hosts done";
    if (hosts_failed_ > 0) text += ", " + std::to_string(hosts_failed_) + " failed";
  }
  if (max_attempts_ > 1)
    text += ", attempt " + std::to_string(attempt_) + "/" + std::to_string(max_attempts_);
  return text;
}

}  // namespace runbook::cli
