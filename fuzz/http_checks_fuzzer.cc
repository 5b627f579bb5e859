// Feeds: an http step's checks and a response to hold against them, as the http action does
// after each attempt (HttpChecks::Compile, CheckHttpResponse, ComputeHttpOutputs), with the
// response body shown as its messages and audit record show it (redacted, Utf8Prefix,
// QuotedExcerpt). The input is a header, one setting a line, then an empty line, then the
// body:
//
//   status 503              the response's status (default 200)
//   expect 200-204          an expect_status range, or one code; repeatable
//   contains TEXT           body_contains (a template)
//   regex TEXT              body_regex
//   json PATH=VALUE         a json check; VALUE is JSON, or else a string (a template)
//   output NAME=SOURCE      an output: body, stdout, $.a.b, ...
//   secret TEXT             one more secret value to redact
//
// Templates see params.version = "1.2.3" and secrets.token = "ZZsecretZZ".
//
// Checks, beyond "does not crash, hang or leak": a check that cannot be compiled names its
// field; a status outside the expected ranges is the first failure; a failure message never
// shows the secret unless the step's own text holds it; an output taken from the body is the
// body, or the text of the value its path finds; what an audit record keeps of a body is
// valid UTF-8 within its size.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/redactor.h"
#include "engine/step_runner.h"
#include "fuzz/fuzz_check.h"
#include "steps/http_checks.h"
#include "steps/http_text.h"
#include "steps/http_transfer.h"

namespace runbook {
namespace {

constexpr char kSecret[] = "ZZsecretZZ";

/// Renders templates with fixed values and redacts the secrets; does nothing else.
class CheckContext : public StepContext {
 public:
  CheckContext() {
    scope_.params["version"] = "1.2.3";
    scope_.secrets["token"] = kSecret;
    redactor_.Add(kSecret);
  }
  void AddSecret(std::string_view secret) { redactor_.Add(secret); }

  std::string Render(std::string_view tmpl, Quoting quoting, std::string_view host) const override {
    return RenderTemplateText(tmpl, scope_, quoting, host, false);
  }
  ShellCommand RenderShell(std::string_view tmpl, std::string_view host) const override {
    return RenderShellCommandText(tmpl, scope_, host);
  }
  std::string RenderForDisplay(std::string_view tmpl, Quoting quoting,
                               std::string_view host) const override {
    return RenderTemplateText(tmpl, scope_, quoting, host, true);
  }
  std::string Redact(std::string_view text) const override { return redactor_.Redact(text); }
  std::string RedactTail(std::string_view text) const override {
    return redactor_.RedactCutStart(text);
  }
  void OutputLine(std::string_view, bool, std::string_view, bool) override {}
  void Progress(std::string_view) override {}
  void HostsDone(int, int, int) override {}
  Status Record(EventKind, const nlohmann::json&) override { return Status::Ok(); }
  int cancel_fd() const override { return -1; }
  bool cancelled() const override { return false; }
  const std::map<std::string, std::string>& extra_env() const override { return env_; }
  const Runbook& runbook() const override { return runbook_; }
  const std::string& run_id() const override { return run_id_; }

 private:
  TemplateScope scope_;
  Redactor redactor_;
  std::map<std::string, std::string> env_;
  Runbook runbook_;
  std::string run_id_ = "run-fuzz";
};

long Number(std::string_view text) {
  long n = 0;
  for (char c : text.substr(0, 4)) {
    if (c < '0' || c > '9') break;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::pair<std::string, std::string> Split(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return {std::string(text), ""};
  return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckContext context;
  StepSpec step;
  HttpAction action;
  HttpResponse response;
  response.status = 200;
  std::string step_text;  // what the runbook wrote, secrets aside
  while (!input.empty()) {
    const size_t nl = input.find('\n');
    const std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    if (line.empty()) break;
    const size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value = space == std::string_view::npos ? "" : line.substr(space + 1);
    if (key == "secret") {
      if (!value.empty()) context.AddSecret(value);
      continue;
    }
    step_text += std::string(line) + "\n";
    if (key == "status") {
      response.status = Number(value);
    } else if (key == "expect") {
      const size_t dash = value.find('-');
      const long low = Number(value.substr(0, dash));
      const long high = dash == std::string_view::npos ? low : Number(value.substr(dash + 1));
      action.expect_status.push_back(StatusRange{static_cast<int>(low), static_cast<int>(high)});
    } else if (key == "contains") {
      action.body_contains = value;
    } else if (key == "regex") {
      action.body_regex = value;
    } else if (key == "json") {
      auto [path, expected] = Split(value);
      nlohmann::json want = nlohmann::json::parse(expected, nullptr, false);
      if (want.is_discarded()) want = expected;
      action.json.emplace_back(path, want);
    } else if (key == "output") {
      auto [name, source] = Split(value);
      step.outputs.push_back(OutputSpec{name, source});
    }
  }
  response.body = std::string(input);
  response.body_bytes = response.body.size();
  step.action = action;

  for (size_t max : {size_t{0}, size_t{80}, size_t{256}}) {
    const std::string head = http::Utf8Prefix(context.Redact(response.body), max);
    FUZZ_CHECK(head.size() <= max);
    (void)nlohmann::json(head).dump();  // throws on invalid UTF-8
  }
  (void)http::QuotedExcerpt(response.body);

  Result<HttpChecks> checks = HttpChecks::Compile(step, action);
  if (!checks.ok()) {
    const std::string& m = checks.message();
    FUZZ_CHECK(m.rfind("body_regex: ", 0) == 0 || m.rfind("json: ", 0) == 0 ||
               m.rfind("output '", 0) == 0);
    return 0;
  }
  HttpBody body(response, context);
  const std::optional<std::string> failure =
      CheckHttpResponse(action, *checks, response.status, body, context);
  bool status_ok = action.expect_status.empty() && response.status >= 200 && response.status <= 299;
  for (const StatusRange& r : action.expect_status) {
    status_ok |= response.status >= r.low && response.status <= r.high;
  }
  FUZZ_CHECK(status_ok == !(failure && failure->rfind("expected status ", 0) == 0));
  if (failure) {
    if (step_text.find(kSecret) == std::string::npos) {
      FUZZ_CHECK(failure->find(kSecret) == std::string::npos);
    }
    return 0;
  }
  std::map<std::string, std::string> outputs;
  if (ComputeHttpOutputs(step, *checks, body, &outputs)) return 0;
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const OutputSpec& output = step.outputs[i];
    bool last = true;  // a later output of the same name replaces this one
    for (size_t j = i + 1; j < step.outputs.size(); ++j)
      last &= step.outputs[j].name != output.name;
    if (!last) continue;
    auto it = outputs.find(output.name);
    if (output.source == "body") {
      FUZZ_CHECK(it != outputs.end() && it->second == response.body);
    } else if (const std::optional<JsonPath>& path = checks->output_paths[i]) {
      FUZZ_CHECK(it != outputs.end() && body.Json() != nullptr);
      const nlohmann::json* value = path->Find(*body.Json());
      FUZZ_CHECK(value != nullptr && it->second == JsonValueText(*value));
    }
  }
  return 0;
}
