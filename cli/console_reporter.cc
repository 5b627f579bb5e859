#include "cli/console_reporter.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "engine/executor.h"
#include "engine/loader.h"

namespace runbook {
namespace {

class ConsoleReporter : public Reporter {
 public:
  explicit ConsoleReporter(std::FILE* out) : out_(out) {
    color_ = isatty(fileno(out)) && !std::getenv("NO_COLOR");
  }

  void RunStarted(const Runbook& rb, const std::string& run_id, bool dry_run) override {
    Print("%s%s %s%s: run %s\n", Bold(), dry_run ? "dry run of" : "running", rb.name.c_str(),
          Reset(), run_id.c_str());
  }

  void PhaseChanged(std::string_view, std::string_view to) override {
    if (to == "pending") return;
    const bool bad = to == "rolling_back" || to == "rollback_failed" || to == "aborted";
    Print("%s── %.*s%s\n", bad ? Color("33") : Dim(), static_cast<int>(to.size()), to.data(),
          Reset());
  }

  void StepStarted(const StepSpec& step, Phase, int attempt, int max_attempts,
                   std::string_view description, bool dry_run) override {
    std::string tries = max_attempts > 1 ? " (attempt " + std::to_string(attempt) + "/" +
                                               std::to_string(max_attempts) + ")"
                                         : "";
    // A multi-line command shows as its first line; the whole text is in the plan and the log.
    // A dry run shows all of it: saying what would run is its purpose.
    std::string_view shown = description;
    std::string more;
    const size_t nl = shown.find('\n');
    if (!dry_run && nl != std::string_view::npos) {
      shown = shown.substr(0, nl);
      more = " …";
    }
    const std::string label = step.name != step.id ? " (" + step.name + ")" : "";
    Print("%s▶ %s%s%s%s: %s%.*s%s\n", Color("36"), step.id.c_str(), Reset(), label.c_str(),
          tries.c_str(), dry_run ? "would run: " : "", static_cast<int>(shown.size()),
          shown.data(), more.c_str());
  }

  void StepOutput(const StepSpec& step, std::string_view host, bool is_stderr,
                  std::string_view line) override {
    std::string prefix = step.id;
    if (!host.empty()) prefix += "@" + std::string(host);
    Print("  %s%s |%s %.*s\n", is_stderr ? Color("33") : Dim(), prefix.c_str(), Reset(),
          static_cast<int>(line.size()), line.data());
  }

  void StepProgress(const StepSpec& step, std::string_view message) override {
    Print("  %s%s … %.*s%s\n", Dim(), step.id.c_str(), static_cast<int>(message.size()),
          message.data(), Reset());
  }

  void StepFinished(const StepSpec& step, Phase, bool ok, std::string_view error,
                    Duration duration, bool will_retry) override {
    const std::string took = FormatDuration(duration);
    if (ok) {
      Print("%s✓ %s%s (%s)\n", Color("32"), step.id.c_str(), Reset(), took.c_str());
    } else {
      Print("%s✗ %s%s: %.*s (%s)%s\n", Color("31"), step.id.c_str(), Reset(),
            static_cast<int>(error.size()), error.data(), took.c_str(),
            will_retry ? ", retrying" : "");
    }
  }

  void Note(std::string_view message) override {
    Print("%snote:%s %.*s\n", Color("33"), Reset(), static_cast<int>(message.size()),
          message.data());
  }

  void RunFinished(const RunSummary& s) override {
    PrintHostRecap(s);
    const bool good = s.exit_code == 0;
    Print("%s%s %s%s in %s (exit %d)\n", good ? Color("32") : Color("31"),
          s.dry_run ? "dry run" : "run", s.state.c_str(), Reset(),
          FormatDuration(s.duration).c_str(), s.exit_code);
    if (!s.error.empty()) Print("  cause: %s\n", s.error.c_str());
    if (s.state == "rollback_failed")
      Print("  a rollback action failed: a human must check the system now.\n");
    Print("  timeline: runbook replay %s\n", s.run_id.c_str());
  }

 private:
  // Like Ansible's PLAY RECAP: one line per ssh host with its counts, then each failed host
  // with what became of it.
  void PrintHostRecap(const RunSummary& s) {
    if (s.hosts.empty()) return;
    size_t width = 0;
    for (const HostTally& t : s.hosts) width = std::max(width, t.host.size());
    Print("%shost recap%s\n", Bold(), Reset());
    for (const HostTally& t : s.hosts) {
      const bool bad = t.failed > 0 || t.rollback_failed > 0;
      Print("  %s%-*s%s  ok=%d  failed=%d  skipped=%d  rolled_back=%d  rollback_failed=%d\n",
            bad ? Color("31") : Color("32"), static_cast<int>(width), t.host.c_str(), Reset(), t.ok,
            t.failed, t.skipped, t.rolled_back, t.rollback_failed);
    }
    for (const FailedHost& f : s.failed_hosts) {
      std::string fate;
      if (f.within_max_fail) fate = "within max_fail, left out of later steps; ";
      if (f.rolled_back) {
        fate += "rolled back there";
      } else if (!f.rollback_error.empty()) {
        fate += "ROLLBACK FAILED there: " + f.rollback_error;
      } else if (!f.reached) {
        fate += "never reached: nothing to undo";
      } else {
        fate += "not rolled back there";
      }
      Print("  %s✗ %s%s failed in %s: %s (%s)\n", Color("31"), f.host.c_str(), Reset(),
            f.step.c_str(), f.error.c_str(), fate.c_str());
    }
  }

  template <typename... Args>
  void Print(const char* fmt, Args... args) {
    std::fprintf(out_, fmt, args...);
    std::fflush(out_);
  }
  const char* Color(const char* code) {
    if (!color_) return "";
    thread_local std::string s;
    s = std::string("\033[") + code + "m";
    return s.c_str();
  }
  const char* Bold() { return color_ ? "\033[1m" : ""; }
  const char* Dim() { return color_ ? "\033[2m" : ""; }
  const char* Reset() { return color_ ? "\033[0m" : ""; }

  std::FILE* out_;
  bool color_ = false;
};

}  // namespace

std::unique_ptr<Reporter> MakeConsoleReporter(std::FILE* out) {
  return std::make_unique<ConsoleReporter>(out);
}

}  // namespace runbook
