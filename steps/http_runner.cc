// The http action (SPEC §1; user documentation in docs/http.md). One Run() is one attempt:
// render the request, send it (http_transfer.h), then check the response in the order a
// reader expects (status, body_contains, body_regex, json) and compute the outputs
// (http_checks.h). Retries are the executor's, and StepResult::detail is this attempt's audit
// record: method, url, status, latency and the first bytes of the body, all with secrets
// masked.
#include <cctype>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "steps/http_checks.h"
#include "steps/http_text.h"
#include "steps/http_transfer.h"
#include "steps/step_runners.h"

namespace runbook {
namespace {

using Clock = std::chrono::steady_clock;
using Outcome = StepResult::Outcome;

constexpr size_t kBodyHead = 256;  // bytes of the body in each attempt's record
constexpr size_t kStdoutTail = size_t{64} << 10;
constexpr size_t kDetailText = 2048;
constexpr Duration kDefaultTimeout{30000};  // when the step sets no timeout

/// Why an attempt did not succeed.
struct Failure {
  std::string error;
  Outcome outcome = Outcome::kFailed;
};

/// An attempt's request, rendered, with the checks compiled before sending.
struct Prepared {
  HttpRequest request;
  std::string display_url;  // secrets masked
  HttpChecks checks;
};

std::optional<Failure> Prepare(const StepSpec& step, const HttpAction& action,
                               const StepContext& context, Prepared* out) {
  HttpRequest& req = out->request;
  req.method = action.method.empty() ? "GET" : action.method;
  for (char& c : req.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  req.url = context.Render(action.url, Quoting::kNone);
  out->display_url =
      http::Utf8Prefix(context.RenderForDisplay(action.url, Quoting::kNone), kDetailText);
  for (const auto& [name, value] : action.headers) {
    std::string v = context.Render(value, Quoting::kNone);
    req.headers.push_back(v.empty() ? name + ";" : name + ": " + v);  // "Name;": empty value
  }
  req.body = context.Render(action.body, Quoting::kNone);
  req.timeout = step.timeout.count() > 0 ? step.timeout : kDefaultTimeout;
  req.connect_timeout = action.connect_timeout;
  req.max_redirects = action.max_redirects;
  req.insecure = action.insecure;
  req.ca_file = action.ca_file;
  if (!req.ca_file.empty() && req.ca_file[0] != '/' && !context.runbook().dir.empty()) {
    req.ca_file = context.runbook().dir + "/" + req.ca_file;
  }

  Result<HttpChecks> checks = HttpChecks::Compile(step, action);
  if (!checks.ok()) return Failure{checks.message()};
  out->checks = std::move(checks).value();
  if (req.url.empty()) return Failure{"the url is empty"};
  return std::nullopt;
}

class HttpRunner : public StepRunner {
 public:
  StepResult Run(const StepRequest& request, StepContext& context) override {
    Clock::time_point start = Clock::now();
    StepResult result;
    std::optional<Failure> failure;
    try {
      failure = Attempt(request, context, &result);
    } catch (const std::exception& e) {
      failure = Failure{std::string("internal error in the http action: ") + e.what()};
    }
    if (failure) {
      result.outcome = failure->outcome;
      result.error = std::move(failure->error);
      result.detail["error"] = http::Utf8Prefix(context.Redact(result.error), kDetailText);
    } else {
      result.outcome = Outcome::kSucceeded;
    }
    result.duration = std::chrono::duration_cast<Duration>(Clock::now() - start);
    return result;
  }

 private:
  static std::optional<Failure> Attempt(const StepRequest& request, StepContext& context,
                                        StepResult* result) {
    if (request.step == nullptr) return Failure{"no step to run"};
    const auto* action = std::get_if<HttpAction>(&request.step->action);
    if (action == nullptr) return Failure{"not an http step"};
    if (request.auto_rollback) {
      return Failure{"an http step has no automatic rollback (rollback: auto)"};
    }

    Prepared prepared;
    std::optional<Failure> failure = Prepare(*request.step, *action, context, &prepared);
    nlohmann::json& detail = result->detail;
    detail["method"] = prepared.request.method;
    detail["url"] = prepared.display_url;
    if (action->insecure) detail["insecure"] = true;
    if (failure) return failure;
    if (request.dry_run) {
      detail["dry_run"] = true;
      detail["request"] = prepared.request.method + " " + prepared.display_url;
      return std::nullopt;
    }
    if (context.cancelled()) return Failure{"interrupted", Outcome::kCancelled};

    HttpResponse response = PerformHttpRequest(prepared.request, context.cancel_fd());
    HttpBody body(response, context);
    detail["latency_ms"] = response.latency.count();
    if (response.status > 0) {
      detail["status"] = response.status;
      detail["body_head"] = http::Utf8Prefix(body.redacted(), kBodyHead);
      detail["body_bytes"] = response.body_bytes;
      if (response.body_bytes > response.body.size()) detail["body_truncated"] = true;
    }
    if (response.redirects > 0) {
      detail["redirects"] = response.redirects;
      detail["final_url"] = http::Utf8Prefix(context.Redact(response.effective_url), kDetailText);
    }
    result->stdout_text = response.body.size() > kStdoutTail
                              ? response.body.substr(response.body.size() - kStdoutTail)
                              : response.body;
    if (response.cancelled) return Failure{"interrupted", Outcome::kCancelled};
    if (!response.error.empty()) {
      return Failure{response.error, response.timed_out ? Outcome::kTimedOut : Outcome::kFailed};
    }
    context.Progress("status " + std::to_string(response.status) + " in " +
                     http::ShortDuration(response.latency) +
                     (response.redirects > 0
                          ? " (after " + std::to_string(response.redirects) + " redirects)"
                          : ""));

    std::optional<std::string> error =
        CheckHttpResponse(*action, prepared.checks, response.status, body, context);
    if (!error) {
      error = ComputeHttpOutputs(*request.step, prepared.checks, body, &result->outputs);
    }
    if (error) return Failure{*std::move(error)};
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<StepRunner> MakeHttpRunner() { return std::make_unique<HttpRunner>(); }

}  // namespace runbook
