// The http action (SPEC §1; user documentation in docs/http.md). One Run() is one attempt:
// render the request, send it (http_transfer.h), then check the response in the order a
// reader expects (status, body_contains, body_regex, json) and compute the outputs. Retries
// are the executor's, and StepResult::detail is this attempt's audit record: method, url,
// status, latency and the first bytes of the body, all with secrets masked.
#include <algorithm>
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

#include "engine/pattern.h"
#include "steps/http_text.h"
#include "steps/http_transfer.h"
#include "steps/json_path.h"
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

/// An attempt's request, rendered, with everything that can be checked before sending.
struct Prepared {
  HttpRequest request;
  std::string display_url;  // secrets masked
  std::optional<Pattern> body_regex;
  std::vector<JsonPath> json_paths;                   // one per HttpAction::json entry
  std::vector<std::optional<JsonPath>> output_paths;  // one per output; set for "$..." sources
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

  if (!action.body_regex.empty()) {
    Result<Pattern> re = Pattern::Compile(action.body_regex);
    if (!re.ok()) {
      return Failure{"body_regex: invalid regular expression '" + action.body_regex +
                     "': " + re.message()};
    }
    out->body_regex = std::move(re).value();
  }
  for (const auto& check : action.json) {
    Result<JsonPath> path = JsonPath::Parse(check.first);
    if (!path.ok()) return Failure{"json: " + path.message()};
    out->json_paths.push_back(*std::move(path));
  }
  for (const OutputSpec& output : step.outputs) {
    out->output_paths.emplace_back();
    if (output.source.empty() || output.source[0] != '$') continue;
    Result<JsonPath> path = JsonPath::Parse(output.source);
    if (!path.ok()) return Failure{"output '" + output.name + "': " + path.message()};
    out->output_paths.back() = *std::move(path);
  }
  if (req.url.empty()) return Failure{"the url is empty"};
  return std::nullopt;
}

std::string StatusRangeText(const StatusRange& r) {
  if (r.low == r.high) return std::to_string(r.low);
  if (r.low % 100 == 0 && r.high == r.low + 99) return std::to_string(r.low / 100) + "xx";
  return std::to_string(r.low) + "-" + std::to_string(r.high);
}

// "200", "200 or 204", "200, 201 or 3xx".
std::string ExpectedStatusText(const std::vector<StatusRange>& ranges) {
  std::string out;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) out += i + 1 == ranges.size() ? " or " : ", ";
    out += StatusRangeText(ranges[i]);
  }
  return out;
}

/// The response under check: the body as received, as shown (redacted), and as JSON (parsed
/// once, on first use).
class Body {
 public:
  Body(const HttpResponse& response, const StepContext& context)
      : response_(response), redacted_(context.Redact(response.body)) {}

  const std::string& text() const { return response_.body; }
  const std::string& redacted() const { return redacted_; }
  /// "'status: degraded\n…'" or "an empty body".
  std::string Shown() const {
    return redacted_.empty() ? "an empty body" : http::QuotedExcerpt(redacted_);
  }
  /// The parsed body, or nullptr when it is not JSON.
  const nlohmann::json* Json() {
    if (!json_) json_ = nlohmann::json::parse(response_.body, nullptr, /*allow_exceptions=*/false);
    return json_->is_discarded() ? nullptr : &*json_;
  }
  std::string NotJson() const {
    if (response_.body_bytes > response_.body.size()) {
      return "the response is not JSON (only its first 1 MiB is kept)";
    }
    return "the response is not JSON (got: " + Shown() + ")";
  }

 private:
  const HttpResponse& response_;
  std::string redacted_;
  std::optional<nlohmann::json> json_;
};

std::optional<Failure> CheckResponse(const HttpAction& action, const Prepared& prepared,
                                     const HttpResponse& response, Body& body,
                                     StepContext& context) {
  std::vector<StatusRange> expected = action.expect_status;
  if (expected.empty()) expected.push_back(StatusRange{200, 299});
  if (std::none_of(expected.begin(), expected.end(), [&](const StatusRange& r) {
        return response.status >= r.low && response.status <= r.high;
      })) {
    return Failure{"expected status " + ExpectedStatusText(expected) + ", got " +
                   std::to_string(response.status)};
  }

  if (!action.body_contains.empty() &&
      body.text().find(context.Render(action.body_contains, Quoting::kNone)) == std::string::npos) {
    return Failure{
        "body does not contain " +
        http::QuotedExcerpt(context.RenderForDisplay(action.body_contains, Quoting::kNone)) +
        " (got: " + body.Shown() + ")"};
  }

  if (prepared.body_regex && !prepared.body_regex->Search(body.text())) {
    return Failure{"body does not match /" + action.body_regex + "/ (got: " + body.Shown() + ")"};
  }

  auto shown = [&](const nlohmann::json& v) {
    bool cut = false;
    std::string text = http::Utf8Prefix(
        context.Redact(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), 80, &cut);
    return cut ? text + "\xE2\x80\xA6" : text;
  };
  for (size_t i = 0; i < prepared.json_paths.size(); ++i) {
    const JsonPath& path = prepared.json_paths[i];
    // Expected strings are templates: "$.version": "{{ params.version }}".
    nlohmann::json want = action.json[i].second;
    nlohmann::json want_shown = want;
    if (want.is_string()) {
      want_shown = context.RenderForDisplay(want.get<std::string>(), Quoting::kNone);
      want = context.Render(want.get<std::string>(), Quoting::kNone);
    }
    const nlohmann::json* doc = body.Json();
    if (doc == nullptr) return Failure{path.text() + ": " + body.NotJson()};
    std::string why;
    const nlohmann::json* got = path.Find(*doc, &why);
    if (got == nullptr) {
      return Failure{path.text() + ": no such path in the response (" + why + ")"};
    }
    if (!JsonScalarMatches(*got, want)) {
      return Failure{path.text() + ": expected " + shown(want_shown) + ", got " + shown(*got)};
    }
  }
  return std::nullopt;
}

std::optional<Failure> ComputeOutputs(const StepSpec& step, const Prepared& prepared, Body& body,
                                      std::map<std::string, std::string>* outputs) {
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const OutputSpec& output = step.outputs[i];
    std::string prefix = "output '" + output.name + "': ";
    if (output.source == "body") {
      (*outputs)[output.name] = body.text();
    } else if (const std::optional<JsonPath>& path = prepared.output_paths[i]) {
      const nlohmann::json* doc = body.Json();
      if (doc == nullptr) return Failure{prefix + path->text() + ": " + body.NotJson()};
      std::string why;
      const nlohmann::json* value = path->Find(*doc, &why);
      if (value == nullptr) {
        return Failure{prefix + path->text() + ": no such path in the response (" + why + ")"};
      }
      (*outputs)[output.name] = JsonValueText(*value);
    } else if (output.source != "stdout" && output.source != "stderr") {
      return Failure{prefix + "unknown source '" + output.source +
                     "' for an http step (body or a JSON path like $.a)"};
    }
  }
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
    Body body(response, context);
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

    failure = CheckResponse(*action, prepared, response, body, context);
    if (failure) return failure;
    return ComputeOutputs(*request.step, prepared, body, &result->outputs);
  }
};

}  // namespace

std::unique_ptr<StepRunner> MakeHttpRunner() { return std::make_unique<HttpRunner>(); }

}  // namespace runbook
