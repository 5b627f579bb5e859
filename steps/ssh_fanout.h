// Runs one command on many hosts from one thread: a rolling window of at most `batch`
// non-blocking SSH sessions (ssh_session.h), one poll(2) over their sockets and the cancel
// descriptor, and a failure budget that stops new hosts from starting once it is exceeded.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "engine/step_runner.h"
#include "steps/ssh_session.h"

namespace runbook {

class KnownHosts;

/// One host to run on, with its command already rendered for it: the script sent on stdin
/// (values, then the command; see ssh_session.h).
struct FanoutJob {
  SshAddress address;
  std::string command;
};

struct FanoutOptions {
  int batch = 0;             // hosts in flight at once; 0: all
  int allowed_failures = 0;  // more failures than this: no new host starts
  Duration step_timeout{0};  // 0: none
  Duration kill_grace{5000};
  int cancel_fd = -1;        // readable once the run is interrupted; -1: none
};

/// Hears about hosts as they progress; called from the fan-out's own thread.
class FanoutObserver {
 public:
  virtual ~FanoutObserver() = default;
  virtual void OnOutputLine(const std::string& host, bool is_stderr, std::string_view line,
                            bool continues) = 0;
  virtual void OnHostFinished(const HostResult& result, int finished, int total) = 0;
};

struct FanoutReport {
  std::vector<HostResult> hosts;  // hosts that were started, in job order
  int failed = 0;
  int not_started = 0;      // left out: failure budget exceeded, timeout or interruption
  bool budget_exceeded = false;
  bool timed_out = false;
  bool cancelled = false;
  int max_in_flight = 0;    // the most sessions open at once
};

/// Runs every job (or as many as the budget, timeout and interruption allow) and returns when
/// every started session has ended. Never throws.
FanoutReport RunFanout(const std::vector<FanoutJob>& jobs, const SshLogin& login,
                       KnownHosts& known_hosts, const FanoutOptions& options,
                       FanoutObserver& observer);

/// A step timeout as its messages say it: "30s", or "1500ms" when not whole seconds.
std::string SshDurationText(Duration d);

}  // namespace runbook
