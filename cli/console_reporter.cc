#include "cli/console_reporter.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/environment.h"
#include "engine/executor.h"
#include "engine/loader.h"

namespace runbook {
namespace {

// `text` cut to `columns` characters, the last an ellipsis when something was cut (every
// character this program prints takes one column).
std::string FitColumns(const std::string& text, int columns) {
  std::vector<size_t> starts;  // where each character begins
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (columns <= 0 || starts.size() <= static_cast<size_t>(columns)) return text;
  return text.substr(0, starts[columns - 1]) + "…";
}

class ConsoleReporterImpl : public ConsoleReporter {
 public:
  explicit ConsoleReporterImpl(const ConsoleOptions& options)
      : o_(options), color_(options.color), status_(options.timing) {
    if (!o_.clock) o_.clock = [] { return std::chrono::steady_clock::now(); };
  }
  ConsoleReporterImpl(const ConsoleReporterImpl&) = delete;
  ConsoleReporterImpl& operator=(const ConsoleReporterImpl&) = delete;

  ~ConsoleReporterImpl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    std::lock_guard<std::mutex> lock(mu_);
    ClearLive();
  }

  void Tick() override {
    std::lock_guard<std::mutex> lock(mu_);
    TickLocked();
  }

  void RunStarted(const Runbook& rb, const std::string& run_id, bool dry_run) override {
    std::lock_guard<std::mutex> lock(mu_);
    Print("%s%s %s%s: run %s\n", Bold(), dry_run ? "dry run of" : "running", rb.name.c_str(),
          Reset(), run_id.c_str());
  }

  void PhaseChanged(std::string_view, std::string_view to) override {
    if (to == "pending") return;
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    Print("%s▶ %s%s%s%s: %s%.*s%s\n", Color("36"), step.id.c_str(), Reset(), label.c_str(),
          tries.c_str(), dry_run ? "would run: " : "", static_cast<int>(shown.size()), shown.data(),
          more.c_str());
    if (!dry_run) {
      status_.Start(step.id, attempt, max_attempts, step.timeout, o_.clock());
      StartTicker();
    }
  }

  void StepHosts(const StepSpec&, int done, int total, int failed) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_.SetHosts(done, total, failed);
  }

  void StepOutput(const StepSpec& step, std::string_view host, bool is_stderr,
                  std::string_view line) override {
    std::string prefix = step.id;
    if (!host.empty()) prefix += "@" + std::string(host);
    std::lock_guard<std::mutex> lock(mu_);
    Print("  %s%s |%s %.*s\n", is_stderr ? Color("33") : Dim(), prefix.c_str(), Reset(),
          static_cast<int>(line.size()), line.data());
  }

  void StepProgress(const StepSpec& step, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    Print("  %s%s … %.*s%s\n", Dim(), step.id.c_str(), static_cast<int>(message.size()),
          message.data(), Reset());
  }

  void StepFinished(const StepSpec& step, Phase, bool ok, std::string_view error, Duration duration,
                    bool will_retry) override {
    const std::string took = FormatDuration(duration);
    std::lock_guard<std::mutex> lock(mu_);
    status_.Stop();
    if (ok) {
      Print("%s✓ %s%s (%s)\n", Color("32"), step.id.c_str(), Reset(), took.c_str());
    } else {
      Print("%s✗ %s%s: %.*s (%s)%s\n", Color("31"), step.id.c_str(), Reset(),
            static_cast<int>(error.size()), error.data(), took.c_str(),
            will_retry ? ", retrying" : "");
    }
  }

  void Note(std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    Print("%snote:%s %.*s\n", Color("33"), Reset(), static_cast<int>(message.size()),
          message.data());
  }

  void RunFinished(const RunSummary& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_.Stop();
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

  // What follows holds mu_.

  // The ticker: while a step runs, Tick a few times a second (live) or often enough for the
  // plain interval; between steps, asleep.
  void StartTicker() {
    if (!o_.ticker || ticker_.joinable()) {
      cv_.notify_all();
      return;
    }
    if (!o_.live && o_.timing.plain_every.count() <= 0) return;
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        if (!status_.running()) {
          cv_.wait(lock);
          continue;
        }
        cv_.wait_for(lock, TickPeriod());
        if (!stopping_) TickLocked();
      }
    });
  }
  Duration TickPeriod() const {
    if (o_.live) return o_.timing.redraw_every;
    return std::clamp(o_.timing.plain_every / 4, Duration(50), Duration(1000));
  }
  void TickLocked() {
    const auto now = o_.clock();
    if (o_.live) {
      if (std::optional<std::string> text = status_.LiveDue(now)) DrawLive(*text);
    } else if (std::optional<std::string> text = status_.PlainDue(now)) {
      Print("  %s%s%s\n", Dim(), text->c_str(), Reset());
    }
  }

  // The live line: drawn over the current line of live_out and left without a newline, the
  // cursor at its end; cleared before anything else is written, redrawn after.
  void DrawLive(const std::string& text) {
    int width = o_.width;
    if (width <= 0) {
      winsize size{};
      width =
          ioctl(fileno(o_.live_out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
    }
    // One column short of the edge: a line that fills it wraps on some terminals, and a
    // wrapped line is not erased by a carriage return.
    const std::string line =
        "\r" + std::string(Dim()) + "  " + FitColumns(text, width - 3) + Reset() + "\033[K";
    std::fputs(line.c_str(), o_.live_out);
    std::fflush(o_.live_out);
    live_shown_ = true;
  }
  void ClearLive() {
    if (!live_shown_) return;
    std::fputs("\r\033[K", o_.live_out);
    std::fflush(o_.live_out);
    live_shown_ = false;
  }

  /// One or more whole lines to `out`, under the live line if one is up.
  template <typename... Args>
  void Print(const char* fmt, Args... args) {
    const bool redraw = live_shown_;
    ClearLive();
    std::fprintf(o_.out, fmt, args...);
    std::fflush(o_.out);
    if (redraw) {
      if (std::optional<std::string> text = status_.LiveNow(o_.clock())) DrawLive(*text);
    }
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

  ConsoleOptions o_;
  const bool color_;
  std::mutex mu_;  // everything below, and all writing
  cli::StepStatus status_;
  bool live_shown_ = false;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread ticker_;
};

}  // namespace

ConsoleOptions ConsoleOptionsFor(std::FILE* out, const Environment& env, bool out_is_tty,
                                 bool stderr_is_tty, std::string* warning) {
  ConsoleOptions o;
  o.out = out;
  const std::optional<std::string> term = env.GetEnv("TERM");
  const bool dumb = term.has_value() && *term == "dumb";
  const std::optional<std::string> no_color = env.GetEnv("NO_COLOR");
  o.color = out_is_tty && !dumb && (!no_color.has_value() || no_color->empty());
  o.live = stderr_is_tty && !dumb;
  if (std::optional<std::string> interval = env.GetEnv("RUNBOOK_PROGRESS_INTERVAL")) {
    Duration d;
    if (*interval == "0") {
      o.timing.plain_every = Duration(0);
    } else if (ParseDuration(*interval, &d)) {
      o.timing.plain_every = d;
    } else if (warning != nullptr) {
      *warning = "RUNBOOK_PROGRESS_INTERVAL='" + *interval +
                 "' is not a duration such as 10s or 500ms; progress lines every " +
                 FormatDuration(o.timing.plain_every);
    }
  }
  return o;
}

std::unique_ptr<ConsoleReporter> MakeConsoleReporter(const ConsoleOptions& options) {
  return std::make_unique<ConsoleReporterImpl>(options);
}

std::unique_ptr<Reporter> MakeConsoleReporter(std::FILE* out) {
  std::string warning;
  const std::unique_ptr<Environment> env = MakeSystemEnvironment();
  ConsoleOptions options = ConsoleOptionsFor(out, *env, ::isatty(fileno(out)) != 0,
                                             ::isatty(STDERR_FILENO) != 0, &warning);
  if (!warning.empty()) std::fprintf(stderr, "runbook: warning: %s\n", warning.c_str());
  return MakeConsoleReporter(options);
}

}  // namespace runbook
