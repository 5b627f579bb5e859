// The http action's checks of a response it received (SPEC §1, docs/http.md): the expected
// status, body_contains, body_regex and the json checks, in the order a reader expects, then
// the outputs taken from the body. Kept apart from the transfer (http_transfer.h): what a
// response is held against depends on the response and the step's templates only, so that
// http_runner.cc runs it after each attempt and fuzz/http_checks_fuzzer.cc can feed it any
// body without a server.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/pattern.h"
#include "engine/status.h"
#include "steps/json_path.h"

namespace runbook {

class StepContext;
struct HttpResponse;

/// The checks of one http step, compiled once per attempt: the body regex, the JSON paths of
/// the json checks and those of the outputs taken from the body. Movable, not copyable.
struct HttpChecks {
  std::optional<Pattern> body_regex;
  std::vector<JsonPath> json_paths;                   // one per HttpAction::json entry
  std::vector<std::optional<JsonPath>> output_paths;  // one per output; set for "$..." sources

  /// Compiles the checks of `action` and the outputs of `step`. The error names the field:
  /// "body_regex: invalid regular expression '(': ...", "json: bad JSON path ...",
  /// "output 'v': bad JSON path ...".
  static Result<HttpChecks> Compile(const StepSpec& step, const HttpAction& action);
};

/// The response under check: the body as received, as shown (redacted with `context`), and
/// as JSON (parsed once, on first use). Refers to `response`, which must outlive it.
class HttpBody {
 public:
  HttpBody(const HttpResponse& response, const StepContext& context);
  HttpBody(const HttpBody&) = delete;
  HttpBody& operator=(const HttpBody&) = delete;

  const std::string& text() const;
  const std::string& redacted() const { return redacted_; }
  /// "'status: degraded\n…'" or "an empty body".
  std::string Shown() const;
  /// The parsed body, or nullptr when it is not JSON.
  const nlohmann::json* Json();
  /// Why Json() is null, for a message: "the response is not JSON (got: '...')".
  std::string NotJson() const;

 private:
  const HttpResponse& response_;
  std::string redacted_;
  std::optional<nlohmann::json> json_;
};

/// Why the response fails the checks of `action` (status, body_contains, body_regex, json, in
/// that order; the first failure), or nullopt when it passes them all. body_contains and
/// expected json strings are templates, rendered with `context`; what the message shows of
/// them and of the body is redacted.
std::optional<std::string> CheckHttpResponse(const HttpAction& action, const HttpChecks& checks,
                                             long status, HttpBody& body,
                                             const StepContext& context);

/// Sets in `outputs` each output of `step` whose source only the http action knows ("body",
/// "$.a.b"); the engine fills "stdout" and "stderr". Why one cannot be computed (the body is
/// not JSON, no such path, an unknown source), or nullopt.
std::optional<std::string> ComputeHttpOutputs(const StepSpec& step, const HttpChecks& checks,
                                              HttpBody& body,
                                              std::map<std::string, std::string>* outputs);

}  // namespace runbook
