#include "steps/http_checks.h"

#include <algorithm>
#include <utility>

#include "engine/step_runner.h"
#include "steps/http_text.h"
#include "steps/http_transfer.h"

namespace runbook {
namespace {

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

}  // namespace

Result<HttpChecks> HttpChecks::Compile(const StepSpec& step, const HttpAction& action) {
  HttpChecks out;
  if (!action.body_regex.empty()) {
    Result<Pattern> re = Pattern::Compile(action.body_regex);
    if (!re.ok()) {
      return Result<HttpChecks>::Error("body_regex: invalid regular expression '" +
                                       action.body_regex + "': " + re.message());
    }
    out.body_regex = std::move(re).value();
  }
  for (const auto& check : action.json) {
    Result<JsonPath> path = JsonPath::Parse(check.first);
    if (!path.ok()) return Result<HttpChecks>::Error("json: " + path.message());
    out.json_paths.push_back(*std::move(path));
  }
  for (const OutputSpec& output : step.outputs) {
    out.output_paths.emplace_back();
    if (output.source.empty() || output.source[0] != '$') continue;
    Result<JsonPath> path = JsonPath::Parse(output.source);
    if (!path.ok()) {
      return Result<HttpChecks>::Error("output '" + output.name + "': " + path.message());
    }
    out.output_paths.back() = *std::move(path);
  }
  return out;
}

HttpBody::HttpBody(const HttpResponse& response, const StepContext& context)
    : response_(response), redacted_(context.Redact(response.body)) {}

const std::string& HttpBody::text() const { return response_.body; }

std::string HttpBody::Shown() const {
  return redacted_.empty() ? "an empty body" : http::QuotedExcerpt(redacted_);
}

const nlohmann::json* HttpBody::Json() {
  if (!json_) json_ = nlohmann::json::parse(response_.body, nullptr, /*allow_exceptions=*/false);
  return json_->is_discarded() ? nullptr : &*json_;
}

std::string HttpBody::NotJson() const {
  if (response_.body_bytes > response_.body.size()) {
    return "the response is not JSON (only its first 1 MiB is kept)";
  }
  return "the response is not JSON (got: " + Shown() + ")";
}

std::optional<std::string> CheckHttpResponse(const HttpAction& action, const HttpChecks& checks,
                                             long status, HttpBody& body,
                                             const StepContext& context) {
  std::vector<StatusRange> expected = action.expect_status;
  if (expected.empty()) expected.push_back(StatusRange{200, 299});
  if (std::none_of(expected.begin(), expected.end(),
                   [&](const StatusRange& r) { return status >= r.low && status <= r.high; })) {
    return "expected status " + ExpectedStatusText(expected) + ", got " + std::to_string(status);
  }

  if (!action.body_contains.empty() &&
      body.text().find(context.Render(action.body_contains, Quoting::kNone)) == std::string::npos) {
    return "body does not contain " +
           http::QuotedExcerpt(context.RenderForDisplay(action.body_contains, Quoting::kNone)) +
           " (got: " + body.Shown() + ")";
  }

  if (checks.body_regex && !checks.body_regex->Search(body.text())) {
    return "body does not match /" + action.body_regex + "/ (got: " + body.Shown() + ")";
  }

  auto shown = [&](const nlohmann::json& v) {
    bool cut = false;
    std::string text = http::Utf8Prefix(
        context.Redact(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), 80, &cut);
    return cut ? text + "\xE2\x80\xA6" : text;
  };
  for (size_t i = 0; i < checks.json_paths.size(); ++i) {
    const JsonPath& path = checks.json_paths[i];
    // Expected strings are templates: "$.version": "{{ params.version }}".
    nlohmann::json want = action.json[i].second;
    nlohmann::json want_shown = want;
    if (want.is_string()) {
      want_shown = context.RenderForDisplay(want.get<std::string>(), Quoting::kNone);
      want = context.Render(want.get<std::string>(), Quoting::kNone);
    }
    const nlohmann::json* doc = body.Json();
    if (doc == nullptr) return path.text() + ": " + body.NotJson();
    std::string why;
    const nlohmann::json* got = path.Find(*doc, &why);
    if (got == nullptr) return path.text() + ": no such path in the response (" + why + ")";
    if (!JsonScalarMatches(*got, want)) {
      return path.text() + ": expected " + shown(want_shown) + ", got " + shown(*got);
    }
  }
  return std::nullopt;
}

std::optional<std::string> ComputeHttpOutputs(const StepSpec& step, const HttpChecks& checks,
                                              HttpBody& body,
                                              std::map<std::string, std::string>* outputs) {
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const OutputSpec& output = step.outputs[i];
    std::string prefix = "output '" + output.name + "': ";
    if (output.source == "body") {
      (*outputs)[output.name] = body.text();
    } else if (const std::optional<JsonPath>& path = checks.output_paths[i]) {
      const nlohmann::json* doc = body.Json();
      if (doc == nullptr) return prefix + path->text() + ": " + body.NotJson();
      std::string why;
      const nlohmann::json* value = path->Find(*doc, &why);
      if (value == nullptr) {
        return prefix + path->text() + ": no such path in the response (" + why + ")";
      }
      (*outputs)[output.name] = JsonValueText(*value);
    } else if (output.source != "stdout" && output.source != "stderr") {
      return prefix + "unknown source '" + output.source +
             "' for an http step (body or a JSON path like $.a)";
    }
  }
  return std::nullopt;
}

}  // namespace runbook
