// What the console shows about a step that takes long (docs/operations.md, "Progress and
// colours"): its elapsed time, its timeout, its attempt and, for a step on several hosts, the
// hosts done and failed. On a terminal that is a status line redrawn in place a few times a
// second once the step has run a while; elsewhere (a pipe, a CI log) a plain line every so
// often. This class only decides what to say and when: the caller passes the time in and
// writes the text out, so that it is tested without a clock, a terminal or sleeps.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "engine/model.h"

namespace runbook::cli {

class StepStatus {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Timing {
    /// A step shows its status once it has run this long: most steps end before.
    Duration show_after{2000};
    /// The live line is redrawn at most this often.
    Duration redraw_every{250};
    /// A plain line every this long while the step runs; 0: none.
    Duration plain_every{10000};
  };

  explicit StepStatus(Timing timing) : timing_(timing) {}

  /// A step (an attempt of it) started at `now`; replaces the one before, if any.
  void Start(std::string step_id, int attempt, int max_attempts, Duration timeout, TimePoint now);
  /// Of the step's `total` hosts, `done` have finished and `failed` of them failed.
  void SetHosts(int done, int total, int failed);
  /// The step ended: nothing more is due.
  void Stop() { running_ = false; }
  bool running() const { return running_; }

  /// The live line's text when it should be drawn or redrawn at `now` (the step has run for
  /// show_after, the last draw is redraw_every old and said something else); nullopt otherwise.
  std::optional<std::string> LiveDue(TimePoint now);
  /// The live line's text at `now`, for redrawing it at once under a line of output, once it
  /// has been shown; nullopt before.
  std::optional<std::string> LiveNow(TimePoint now);
  /// A plain progress line when one is due at `now` (every plain_every of the step's time);
  /// nullopt otherwise.
  std::optional<std::string> PlainDue(TimePoint now);

 private:
  /// "42s (timeout 5m), 12/50 hosts done, 1 failed, attempt 2/3" after `elapsed`.
  std::string Facts(Duration elapsed) const;
  Duration WholeSeconds(TimePoint now) const;

  Timing timing_;
  bool running_ = false;
  std::string step_id_;
  int attempt_ = 1;
  int max_attempts_ = 1;
  Duration timeout_{0};
  TimePoint started_{};
  int hosts_done_ = 0;
  int hosts_total_ = 0;
  int hosts_failed_ = 0;
  bool shown_ = false;  // the live line has been drawn for this step
  TimePoint last_draw_{};
  std::string last_text_;
  int plain_lines_ = 0;  // plain lines written for this step
};

}  // namespace runbook::cli
