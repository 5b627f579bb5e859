// A StepContext for runner tests: renders templates verbatim (RenderShell substitutes `scope`),
// records what a runner reports, and lets a test cancel the attempt.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "engine/cancel.h"
#include "engine/model.h"
#include "engine/step_runner.h"

namespace runbook::testing {

class FakeStepContext : public StepContext {
 public:
  FakeStepContext() { runbook_.name = "test"; }

  std::string Render(std::string_view tmpl, Quoting, std::string_view) const override {
    return std::string(tmpl);
  }
  std::string RenderForDisplay(std::string_view tmpl, Quoting q,
                               std::string_view host) const override {
    return Redact(Render(tmpl, q, host));
  }
  std::string Redact(std::string_view text) const override {
    std::string s(text);
    for (const auto& secret : secrets) {
      for (size_t at; !secret.empty() && (at = s.find(secret)) != std::string::npos;)
        s.replace(at, secret.size(), "***");
    }
    return s;
  }
  ShellCommand RenderShell(std::string_view tmpl, std::string_view host) const override {
    return RenderShellCommandText(tmpl, scope, host);
  }
  std::string RedactTail(std::string_view text) const override { return Redact(text); }
  void OutputLine(std::string_view host, bool is_stderr, std::string_view line,
                  bool continues) override {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back({std::string(host), is_stderr, std::string(line), continues});
  }
  void Progress(std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu);
    progress.emplace_back(message);
  }
  void HostsDone(int done, int total, int failed) override {
    std::lock_guard<std::mutex> lock(mu);
    hosts_done.push_back({done, total, failed});
  }
  Status Record(EventKind event, const nlohmann::json& detail) override {
    std::lock_guard<std::mutex> lock(mu);
    records.push_back({std::string(EventName(event)), detail});
    return Status::Ok();
  }
  int cancel_fd() const override { return cancel.fd(); }
  bool cancelled() const override { return cancel.cancelled(); }
  const std::map<std::string, std::string>& extra_env() const override { return env; }
  const Runbook& runbook() const override { return runbook_; }
  const std::string& run_id() const override { return run_id_; }

  struct Line {
    std::string host;
    bool is_stderr;
    std::string text;
    bool continues = false;
  };
  struct RecordedEvent {
    std::string event;
    nlohmann::json detail;
  };

  std::mutex mu;
  std::vector<Line> lines;
  std::vector<std::string> progress;
  struct HostsProgress {
    int done, total, failed;
  };
  std::vector<HostsProgress> hosts_done;  // HostsDone calls, in order
  std::vector<RecordedEvent> records;
  std::vector<std::string> secrets;
  std::map<std::string, std::string> env;
  TemplateScope scope;  // what RenderShell substitutes
  CancelFlag cancel;
  Runbook runbook_;
  std::string run_id_ = "run-test";
};

}  // namespace runbook::testing
