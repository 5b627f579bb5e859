#include "steps/ssh_fanout.h"

#include <errno.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "steps/known_hosts.h"

namespace runbook {
namespace {

using Clock = std::chrono::steady_clock;

// Each session holds one socket; make room for a large window when the hard limit allows.
void RaiseFdLimit(size_t sockets) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t want = static_cast<rlim_t>(sockets) + 256;
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= want) return;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(want, lim.rlim_max);
  setrlimit(RLIMIT_NOFILE, &lim);
}

int PollTimeout(Clock::time_point now, Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return 60000;
  if (deadline <= now) return 0;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
  return static_cast<int>(std::min<long long>(ms, 60000));
}

}  // namespace

std::string SshDurationText(Duration d) {
  long ms = static_cast<long>(d.count());
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

FanoutReport RunFanout(const std::vector<FanoutJob>& jobs, const SshLogin& login,
                       KnownHosts& known_hosts, const FanoutOptions& options,
                       FanoutObserver& observer) {
  FanoutReport report;
  const size_t total = jobs.size();
  const size_t window =
      options.batch > 0 ? std::min(total, static_cast<size_t>(options.batch)) : total;
  RaiseFdLimit(window);

  std::vector<std::unique_ptr<SshSession>> sessions(total);
  std::vector<size_t> active;
  size_t next = 0;
  int finished = 0;
  bool stopping = false;
  const Clock::time_point begin = Clock::now();
  const Clock::time_point step_deadline =
      options.step_timeout.count() > 0 ? begin + options.step_timeout : Clock::time_point::max();
  auto sink = [&observer](const std::string& host, bool is_stderr, std::string_view line,
                          bool continues) {
    observer.OnOutputLine(host, is_stderr, line, continues);
  };
  auto on_done = [&](size_t i) {
    const HostResult& r = sessions[i]->result();
    if (!r.ok) ++report.failed;
    observer.OnHostFinished(r, ++finished, static_cast<int>(total));
  };
  auto stop_all = [&](Clock::time_point now, const std::string& reason) {
    stopping = true;
    for (size_t i : active) sessions[i]->Stop(now, reason, options.kill_grace);
  };

  std::vector<pollfd> fds;
  for (;;) {
    Clock::time_point now = Clock::now();
    // Start hosts while the window has room and the failure budget holds. A host that fails at
    // once (refused) frees its slot immediately, so keep going until the window is full.
    while (!stopping && next < total && active.size() < window &&
           report.failed <= options.allowed_failures) {
      size_t i = next++;
      sessions[i] = std::make_unique<SshSession>(jobs[i].address, login, known_hosts,
                                                 jobs[i].command, sink);
      sessions[i]->Start(now);
      if (sessions[i]->done()) {
        on_done(i);
      } else {
        active.push_back(i);
        report.max_in_flight = std::max(report.max_in_flight, static_cast<int>(active.size()));
      }
    }
    if (active.empty()) break;

    fds.clear();
    fds.push_back({options.cancel_fd, POLLIN, 0});
    Clock::time_point wake = stopping ? Clock::time_point::max() : step_deadline;
    for (size_t i : active) {
      fds.push_back({sessions[i]->fd(), sessions[i]->events(), 0});
      wake = std::min(wake, sessions[i]->deadline());
    }
    int rc = poll(fds.data(), fds.size(), PollTimeout(now, wake));
    if (rc < 0 && errno != EINTR) {
      stop_all(Clock::now(), std::string("internal error: poll failed: ") + std::strerror(errno));
    }
    now = Clock::now();
    if (!stopping && options.cancel_fd >= 0 && rc > 0 && (fds[0].revents & POLLIN)) {
      report.cancelled = true;
      stop_all(now, "interrupted");
    }
    if (!stopping && now >= step_deadline) {
      report.timed_out = true;
      stop_all(now, "timeout: the step's timeout of " + SshDurationText(options.step_timeout) +
                        " ran out");
    }
    std::vector<size_t> still;
    still.reserve(active.size());
    for (size_t k = 0; k < active.size(); ++k) {
      SshSession& s = *sessions[active[k]];
      if (!s.done() && (fds[k + 1].revents != 0 || now >= s.deadline())) s.Advance(now);
      if (s.done()) {
        on_done(active[k]);
      } else {
        still.push_back(active[k]);
      }
    }
    active.swap(still);
  }

  report.not_started = static_cast<int>(total - next);
  report.budget_exceeded = report.not_started > 0 && !stopping;
  for (size_t i = 0; i < next; ++i) report.hosts.push_back(sessions[i]->result());
  return report;
}

}  // namespace runbook
