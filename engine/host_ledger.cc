#include "engine/host_ledger.h"

#include <algorithm>
#include <cctype>

namespace runbook {
namespace {

bool IsForwardPhase(const std::string& phase) {
  return phase == "precheck" || phase == "step" || phase == "verify";
}

// "host:port", lower-cased; the spec itself when it does not parse.
std::string HostKey(std::string_view spec, int default_port) {
  std::string host;
  std::string port = std::to_string(default_port);
  if (!spec.empty() && spec.front() == '[') {
    const size_t close = spec.find(']');
    if (close == std::string_view::npos) return std::string(spec);
    host = std::string(spec.substr(1, close - 1));
    std::string_view rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::string(spec);
      port = std::string(rest.substr(1));
    }
  } else {
    const size_t colon = spec.find(':');
    if (colon != std::string_view::npos && spec.find(':', colon + 1) == std::string_view::npos) {
      host = std::string(spec.substr(0, colon));
      port = std::string(spec.substr(colon + 1));
    } else {
      host = std::string(spec);  // a name, or a bare IPv6 address
    }
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host + "\n" + port;
}

}  // namespace

void to_json(nlohmann::json& j, const FailedHost& f) {
  j = {{"step", f.step},
       {"phase", f.phase},
       {"host", f.host},
       {"error", f.error},
       {"exit_status", f.exit_status},
       {"reached", f.reached},
       {"within_max_fail", f.within_max_fail},
       {"rolled_back", f.rolled_back}};
  if (!f.rollback_error.empty()) j["rollback_error"] = f.rollback_error;
}

void to_json(nlohmann::json& j, const HostTally& t) {
  j = {{"host", t.host},
       {"ok", t.ok},
       {"failed", t.failed},
       {"skipped", t.skipped},
       {"rolled_back", t.rolled_back},
       {"rollback_failed", t.rollback_failed}};
}

bool SameSshHost(std::string_view a, int a_port, std::string_view b, int b_port) {
  return HostKey(a, a_port) == HostKey(b, b_port);
}

HostTally& HostLedger::TallyOf(const std::string& host) {
  HostTally& t = tally_[host];
  t.host = host;
  return t;
}

const std::vector<EventKind>& HostLedger::Kinds() {
  static const std::vector<EventKind> kinds = {
      EventKind::kStepStarted,   EventKind::kRollbackStarted, EventKind::kAttemptStarted,
      EventKind::kHostFinished,  EventKind::kHostFailed,      EventKind::kHostSkipped,
      EventKind::kStepSucceeded, EventKind::kStepFailed,      EventKind::kRollbackSucceeded,
      EventKind::kRollbackFailed};
  return kinds;
}

void HostLedger::Add(const EventView& e) {
  if (!e.kind) return;
  const EventKind kind = *e.kind;
  const StepKey key{e.phase, e.step};
  switch (kind) {
    case EventKind::kRollbackStarted: {
      const auto d = e.detail.get<StepStartedDetail>();
      rollbacks_[e.step] = {d.undoes, !d.only_hosts.empty()};
      attempt_hosts_.erase(key);
      break;
    }
    case EventKind::kStepStarted:
    case EventKind::kAttemptStarted:
      attempt_hosts_.erase(key);
      break;
    case EventKind::kHostFinished: {
      const auto d = e.detail.get<HostFinishedDetail>();
      if (d.host.empty()) break;
      const HostOutcome outcome{HostFinishedOk(d), d.reached, d.exit_status, d.error};
      attempt_hosts_[key][d.host] = outcome;
      (void)TallyOf(d.host);
      if (e.phase != "rollback") break;
      auto run = rollbacks_.find(e.step);
      if (run == rollbacks_.end() || run->second.undoes.empty()) break;
      undo_[{run->second.undoes, d.host}][e.step] = outcome;
      if (run->second.at_once && outcome.ok) undone_at_once_[e.step].insert(d.host);
      break;
    }
    case EventKind::kHostFailed: {
      const auto d = e.detail.get<HostFailedDetail>();
      if (d.host.empty()) break;
      (void)TallyOf(d.host);
      const bool known = std::any_of(failed_.begin(), failed_.end(), [&](const FailedHost& f) {
        return f.step == e.step && f.phase == e.phase && f.host == d.host;
      });
      if (!known) {
        failed_.push_back({.step = e.step,
                           .phase = e.phase,
                           .host = d.host,
                           .error = d.error,
                           .exit_status = d.exit_status,
                           .reached = d.reached,
                           .within_max_fail = true});
        left_out_.emplace_back(d.host, e.step);
      }
      break;
    }
    case EventKind::kHostSkipped: {
      const auto d = e.detail.get<HostSkippedDetail>();
      if (d.host.empty() || !IsForwardPhase(e.phase)) break;
      ++TallyOf(d.host).skipped;
      left_out_by_[e.step].insert(d.host);
      break;
    }
    case EventKind::kStepSucceeded:
    case EventKind::kStepFailed:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackFailed:
      EndStep(e, kind);
      break;
    case EventKind::kRunStarted:
    case EventKind::kNotificationSent:
    case EventKind::kNotificationFailed:
    case EventKind::kStateChanged:
    case EventKind::kAttemptFinished:
    case EventKind::kStepSkipped:
    case EventKind::kRunFinished:
    case EventKind::kRunRecovered:
    case EventKind::kProcessStarted:
    case EventKind::kKubectlTarget:
    case EventKind::kKubectlRevisions:
    case EventKind::kKubectlUndo:
    case EventKind::kPlansPruned:
    case EventKind::kWebAction:
      break;
  }
}

// A step's end counts its hosts' last attempt once, and lists the hosts that failed in it.
void HostLedger::EndStep(const EventView& e, EventKind kind) {
  auto hosts = attempt_hosts_.find({e.phase, e.step});
  if (hosts == attempt_hosts_.end()) return;
  const bool rollback = e.phase == "rollback";
  for (const auto& [host, outcome] : hosts->second) {
    HostTally& t = TallyOf(host);
    if (rollback) {
      ++(outcome.ok ? t.rolled_back : t.rollback_failed);
      continue;
    }
    ++(outcome.ok ? t.ok : t.failed);
    if (outcome.ok) continue;
    // (host named in the capture: clang 14 cannot capture a structured binding.)
    const bool known =
        std::any_of(failed_.begin(), failed_.end(), [&, &host = host](const FailedHost& f) {
          return f.step == e.step && f.phase == e.phase && f.host == host;
        });
    // A step that succeeded went on without this host (a log from before host_failed existed
    // says so only this way).
    if (!known)
      failed_.push_back({.step = e.step,
                         .phase = e.phase,
                         .host = host,
                         .error = outcome.error,
                         .exit_status = outcome.exit_status,
                         .reached = outcome.reached,
                         .within_max_fail = kind == EventKind::kStepSucceeded});
  }
  attempt_hosts_.erase(hosts);
}

std::vector<FailedHost> HostLedger::FailedHosts() const {
  std::vector<FailedHost> out = failed_;
  for (FailedHost& f : out) {
    auto undo = undo_.find({f.step, f.host});
    if (undo == undo_.end() || undo->second.empty()) continue;
    f.rolled_back = true;
    for (const auto& [action, outcome] : undo->second) {
      if (outcome.ok) continue;
      f.rolled_back = false;
      f.rollback_error = action + ": " + (outcome.error.empty() ? "failed" : outcome.error);
    }
  }
  return out;
}

std::vector<HostTally> HostLedger::Tally() const {
  std::vector<HostTally> out;
  out.reserve(tally_.size());
  for (const auto& [host, tally] : tally_) out.push_back(tally);
  return out;
}

std::set<std::string> HostLedger::LeftOutBy(const std::string& step) const {
  auto it = left_out_by_.find(step);
  return it == left_out_by_.end() ? std::set<std::string>{} : it->second;
}

std::set<std::string> HostLedger::UndoneAtOnce(const std::string& action) const {
  auto it = undone_at_once_.find(action);
  return it == undone_at_once_.end() ? std::set<std::string>{} : it->second;
}

}  // namespace runbook
