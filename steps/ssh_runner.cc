// The `ssh` action: renders the command per host, runs it on every host of the target through
// the fan-out loop (ssh_fanout.h), records one `host_finished` event per host and folds the
// hosts into one StepResult. Rollbacks of an ssh step run only where the step reached.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "steps/known_hosts.h"
#include "steps/ssh_fanout.h"
#include "steps/ssh_identity.h"
#include "steps/ssh_session.h"
#include "steps/step_runners.h"

namespace runbook {
namespace {

constexpr size_t kAuditTailBytes = 2048;
constexpr size_t kStepTailBytes = 64 * 1024;

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string DefaultUser() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) return pw->pw_name;
  return "root";
}

// Several hosts' output in one text: each line prefixed with its host.
/// The last `n` bytes of `text`. A cut text may begin inside a secret, so it is redacted
/// (start included) here; an uncut one is left to the engine, as every other output.
std::string CutTail(const StepContext& context, const std::string& text, size_t n) {
  if (text.size() < n) return text;
  return context.RedactTail(Tail(text, n));
}

std::string Merge(const StepContext& context, const std::vector<HostResult>& hosts,
                  bool is_stderr) {
  if (hosts.size() == 1) return is_stderr ? hosts[0].stderr_text : hosts[0].stdout_text;
  std::string out;
  for (const HostResult& h : hosts) {
    const std::string text =
        CutTail(context, is_stderr ? h.stderr_text : h.stdout_text, kSshTailBytes);
    size_t at = 0;
    while (at < text.size()) {
      size_t nl = text.find('\n', at);
      if (nl == std::string::npos) nl = text.size();
      out += h.host + ": " + text.substr(at, nl - at) + "\n";
      at = nl + 1;
    }
  }
  return Tail(out, kStepTailBytes);
}

// The step's outputs as host `h` gave them (stdout and stderr sources; trimmed).
std::map<std::string, std::string> HostOutputs(const StepSpec& step, const HostResult& h) {
  std::map<std::string, std::string> outputs;
  for (const OutputSpec& out : step.outputs) {
    if (out.source == "stdout") outputs[out.name] = Trim(h.stdout_text);
    if (out.source == "stderr") outputs[out.name] = Trim(h.stderr_text);
  }
  return outputs;
}

class Observer : public FanoutObserver {
 public:
  Observer(StepContext& context, const StepSpec& step) : context_(context), step_(step) {}

  void OnOutputLine(const std::string& host, bool is_stderr, std::string_view line,
                    bool continues) override {
    context_.OutputLine(host, is_stderr, line, continues);
  }

  void OnHostFinished(const HostResult& r, int finished, int total) override {
    const HostFinishedDetail detail{
        .host = r.host,
        .exit_status = r.exit_status,
        .duration_ms = r.duration.count(),
        .stdout_tail = CutTail(context_, r.stdout_text, kAuditTailBytes),
        .stderr_tail = CutTail(context_, r.stderr_text, kAuditTailBytes),
        .error = r.error,
        .reached = r.reached,
        .ok = r.ok,
        .outputs = HostOutputs(step_, r)};
    Status s = context_.Record(EventKind::kHostFinished, detail);
    if (!s.ok() && record_error_.empty()) record_error_ = s.message();
    if (!r.ok) ++failed_;
    context_.HostsDone(finished, total, failed_);
    // Progress for fleets, naming the host: every host when small, every failed host and
    // every tenth of the fleet when large.
    const int step = std::max(1, total / 10);
    if (total > 1 && (total <= 20 || !r.ok || finished % step == 0 || finished == total)) {
      context_.Progress(r.host + (r.ok ? " ok" : " failed: " + r.error) + " (" +
                        std::to_string(finished) + "/" + std::to_string(total) + " hosts done, " +
                        std::to_string(failed_) + " failed)");
    }
  }

  const std::string& record_error() const { return record_error_; }

 private:
  StepContext& context_;
  const StepSpec& step_;
  int failed_ = 0;
  std::string record_error_;
};

class SshRunner : public StepRunner {
 public:
  StepResult Run(const StepRequest& request, StepContext& context) override {
    StepResult result;
    const auto started = std::chrono::steady_clock::now();
    const auto* action = std::get_if<SshAction>(&request.step->action);
    if (action == nullptr) {
      result.error = "internal error: the ssh runner was given a non-ssh step";
      return result;
    }
    if (request.auto_rollback) {
      result.error = "an ssh step has no automatic rollback; write the undo command as the "
                     "step's rollback";
      return result;
    }
    const SshTarget& target = action->resolved;

    // Hosts: the target's, or for the rollback of an ssh step only those it reached.
    std::vector<std::string> hosts = target.hosts;
    const bool undoing_ssh =
        request.undoing_result != nullptr &&
        (request.undoing != nullptr ? KindOf(request.undoing->action) == ActionKind::kSsh
                                    : !request.undoing_result->hosts.empty());
    if (undoing_ssh) {
      std::set<std::string> reached;
      for (const HostResult& h : request.undoing_result->hosts) {
        if (h.reached) reached.insert(h.host);
      }
      hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                 [&](const std::string& h) { return reached.count(h) == 0; }),
                  hosts.end());
      result.detail["rollback_hosts"] = hosts;
      if (hosts.empty()) {
        result.outcome = StepResult::Outcome::kSucceeded;
        result.detail["note"] = "the step being undone reached no host; nothing to roll back";
        return result;
      }
    }
    // Hosts the executor leaves out (they failed in an earlier step; it has recorded why).
    if (!request.skip_hosts.empty()) {
      const size_t before = hosts.size();
      std::erase_if(hosts, [&](const std::string& h) {
        return std::find(request.skip_hosts.begin(), request.skip_hosts.end(), h) !=
               request.skip_hosts.end();
      });
      result.detail["skipped_hosts"] = request.skip_hosts;
      if (hosts.empty() && before > 0) {
        result.outcome = StepResult::Outcome::kSucceeded;
        result.exit_status = 0;
        result.detail["note"] = "every host of the target is left out; nothing to run";
        return result;
      }
    }
    if (hosts.empty()) {
      result.error = "the ssh target has no hosts";
      return result;
    }

    std::vector<FanoutJob> jobs;
    for (const std::string& spec : hosts) {
      Result<SshAddress> address = ParseSshAddress(spec, target.port);
      if (!address.ok()) {
        result.error = address.message();
        return result;
      }
      ShellCommand command = context.RenderShell(action->command, spec);
      jobs.push_back({*address, ShellAssignments(command.values) + command.text});
    }

    if (request.dry_run) {
      nlohmann::json list = nlohmann::json::array();
      for (const std::string& spec : hosts) {
        list.push_back({{"host", spec},
                        {"command", context.RenderForDisplay(action->command, Quoting::kShell,
                                                             spec)}});
      }
      result.outcome = StepResult::Outcome::kSucceeded;
      result.detail = {{"dry_run", true}, {"hosts", list}};
      return result;
    }
    if (context.cancelled()) {
      result.outcome = StepResult::Outcome::kCancelled;
      result.error = "interrupted";
      return result;
    }

    SshLogin login;
    login.user = target.user.empty() ? DefaultUser() : target.user;
    login.identity_file = target.identity_file;
    if (!target.passphrase_secret.empty()) {
      login.passphrase =
          context.Render("{{ secrets." + target.passphrase_secret + " }}", Quoting::kNone);
    }
    // Read the key once for every host when we can sign with it ourselves (ssh_identity.h).
    if (!login.identity_file.empty() && login.passphrase.empty()) {
      login.identity = SshIdentity::Load(login.identity_file);
    }
    login.host_key_checking = target.host_key_checking;
    login.connect_timeout = target.connect_timeout.count() > 0 ? target.connect_timeout
                                                                : Duration(10000);
    login.keepalive = target.keepalive;

    std::string known_path = target.known_hosts;
    if (known_path.empty()) {
      const char* home = std::getenv("HOME");
      known_path = std::string(home != nullptr ? home : "") + "/.ssh/known_hosts";
    }
    Result<KnownHosts> known = KnownHosts::Load(known_path);
    if (!known.ok()) {
      result.error = known.message();
      return result;
    }

    const int total = static_cast<int>(jobs.size());
    FanoutOptions options;
    options.batch = action->batch;
    options.allowed_failures = action->max_fail.Allowed(total);
    options.step_timeout = request.step->timeout;
    options.kill_grace = request.step->kill_grace;
    options.cancel_fd = context.cancel_fd();

    Observer observer(context, *request.step);
    context.HostsDone(0, total, 0);
    FanoutReport report = RunFanout(jobs, login, *known, options, observer);

    for (HostResult& h : report.hosts) h.outputs = HostOutputs(*request.step, h);
    result.hosts = report.hosts;
    result.stdout_text = Merge(context, result.hosts, false);
    result.stderr_text = Merge(context, result.hosts, true);
    result.duration = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() -
                                                           started);
    result.exit_status = 0;
    std::vector<const HostResult*> failed;
    for (const HostResult& h : result.hosts) {
      if (!h.ok) failed.push_back(&h);
    }
    if (!failed.empty()) result.exit_status = failed.front()->exit_status;

    result.detail["hosts"] = total;
    result.detail["started"] = static_cast<int>(result.hosts.size());
    result.detail["failed"] = report.failed;
    result.detail["not_started"] = report.not_started;
    result.detail["allowed_failures"] = options.allowed_failures;
    result.detail["max_in_flight"] = report.max_in_flight;
    if (!observer.record_error().empty()) result.detail["record_error"] = observer.record_error();

    std::string failures;
    for (const HostResult* h : failed) {
      failures += (failures.empty() ? "" : ", ") + h->host + " (" + h->error + ")";
    }
    if (report.cancelled) {
      result.outcome = StepResult::Outcome::kCancelled;
      result.error = "interrupted; closed the sessions on " +
                     std::to_string(result.hosts.size()) + " host(s)";
    } else if (report.timed_out) {
      result.outcome = StepResult::Outcome::kTimedOut;
      result.error = "timed out after " + SshDurationText(request.step->timeout);
      if (!failures.empty()) result.error += ": " + failures;
    } else if (report.failed > options.allowed_failures) {
      result.outcome = StepResult::Outcome::kFailed;
      result.error = std::to_string(report.failed) + " of " + std::to_string(total) +
                     " hosts failed: " + failures;
      if (report.not_started > 0) {
        result.error += "; " + std::to_string(report.not_started) +
                        " host(s) not started (max_fail " +
                        std::to_string(options.allowed_failures) + " exceeded)";
      }
    } else {
      result.outcome = StepResult::Outcome::kSucceeded;
      result.exit_status = 0;
      if (!failures.empty()) result.detail["tolerated_failures"] = failures;
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<StepRunner> MakeSshRunner() { return std::make_unique<SshRunner>(); }

}  // namespace runbook
