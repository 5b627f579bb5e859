#include "engine/plan.h"

#include <algorithm>

#include "engine/describe.h"
#include "engine/loader.h"
#include "engine/template.h"
#include "engine/yaml_tree.h"

namespace runbook {
namespace {

// The hash of every plan ever approved depends on this conversion: it must not change.
// (A later duplicate key replaces an earlier one; a key that is not a scalar reads as "".)
nlohmann::json YamlToJson(const YamlNode& node) {
  switch (node.Type()) {
    case YamlKind::kMap: {
      nlohmann::json out = nlohmann::json::object();
      for (const YamlPair& kv : node.pairs()) {
        out[std::string(kv.first.Scalar())] = YamlToJson(kv.second);
      }
      return out;
    }
    case YamlKind::kSequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const YamlNode& v : node.items()) out.push_back(YamlToJson(v));
      return out;
    }
    case YamlKind::kScalar:
      return std::string(node.Scalar());
    case YamlKind::kNull:
    case YamlKind::kUndefined:
      return nullptr;
  }
  return nullptr;
}

// Renders a template for a reviewer: params with their values (quoted as they will be),
// secrets as ***, references to step results as written.
std::string ForReview(std::string_view text, Quoting quoting,
                      const std::map<std::string, std::string>& params,
                      std::vector<std::string>* raw_refs) {
  Template t;
  TemplateError err;
  if (!ParseTemplate(text, quoting, &t, &err)) return std::string(text);
  std::string out;
  for (const auto& p : t.pieces) {
    if (!p.is_ref) {
      out += p.literal;
      continue;
    }
    const TemplateRef& r = p.ref;
    std::string value;
    bool quote = quoting == Quoting::kShell && !r.raw;
    switch (r.kind) {
      case TemplateRef::Kind::kParam: {
        auto it = params.find(r.name);
        value = it != params.end() ? it->second : "";
        if (r.raw && raw_refs) raw_refs->push_back("params." + r.name);
        break;
      }
      case TemplateRef::Kind::kSecret:
        value = "***";
        quote = false;
        if (r.raw && raw_refs) raw_refs->push_back("secrets." + r.name);
        break;
      case TemplateRef::Kind::kStepStdout:
        value = "{{ steps." + r.name + ".stdout }}";
        quote = false;
        break;
      case TemplateRef::Kind::kStepStderr:
        value = "{{ steps." + r.name + ".stderr }}";
        quote = false;
        break;
      case TemplateRef::Kind::kStepOutput:
        value = "{{ steps." + r.name + ".outputs." + r.output + " }}";
        quote = false;
        break;
      case TemplateRef::Kind::kRunId:
        value = "{{ run.id }}";
        quote = false;
        break;
      case TemplateRef::Kind::kEnv:
        value = "{{ env." + r.name + " }}";
        quote = false;
        if (r.raw && raw_refs) raw_refs->push_back("env." + r.name);
        break;
    }
    out += quote ? ShellQuote(value) : value;
  }
  return out;
}

/// What a reviewer approves besides the command: hosts and fan-out, limits, expectations.
std::vector<std::string> StepSettings(const StepSpec& s,
                                      const std::map<std::string, std::string>& params) {
  std::vector<std::string> out;
  auto review = [&](const std::string& t) { return ForReview(t, Quoting::kNone, params, nullptr); };
  if (const auto* ssh = std::get_if<SshAction>(&s.action)) {
    std::string hosts;
    for (const std::string& h : ssh->resolved.hosts) hosts += (hosts.empty() ? "" : ", ") + review(h);
    out.push_back("hosts: " + hosts);
    out.push_back(std::string("batch: ") +
                  (ssh->batch > 0 ? std::to_string(ssh->batch) + " at a time" : "all at once") +
                  "; max_fail: " + std::to_string(ssh->max_fail.value) +
                  (ssh->max_fail.percent ? "%" : "") + " (hosts that may fail)");
  }
  if (const auto* http = std::get_if<HttpAction>(&s.action)) {
    std::string status;
    for (const StatusRange& r : http->expect_status) {
      std::string one = r.low == r.high ? std::to_string(r.low)
                                        : std::to_string(r.low / 100) + "xx";
      status += (status.empty() ? "" : " or ") + one;
    }
    std::string expect = "expects status " + (status.empty() ? std::string("2xx") : status);
    if (!http->body_contains.empty())
      expect += ", body containing \"" + review(http->body_contains) + "\"";
    if (!http->body_regex.empty()) expect += ", body matching /" + http->body_regex + "/";
    for (const auto& [path, value] : http->json) expect += ", " + path + " = " + value.dump();
    out.push_back(expect);
  }
  std::string limits = "timeout: " + (s.timeout.count() > 0 ? FormatDuration(s.timeout) : "none");
  limits += "; attempts: " + std::to_string(s.retries + 1);
  if (s.retries > 0) limits += " (retry after " + FormatDuration(s.retry_delay) + ")";
  out.push_back(limits);
  return out;
}

nlohmann::json StepJson(const StepSpec& s, const std::map<std::string, std::string>& params,
                        nlohmann::json* warnings, const KubeTargetDescriber& describe_kube) {
  std::vector<std::string> raw;
  const std::string description = DescribeAction(
      s.action, [&](std::string_view t, Quoting q) { return ForReview(t, q, params, &raw); });
  nlohmann::json j = {{"id", s.id},
                      {"name", s.name},
                      {"action", ActionKindName(KindOf(s.action))},
                      {"description", description},
                      {"timeout_ms", s.timeout.count()},
                      {"retries", s.retries},
                      {"settings", StepSettings(s, params)}};
  if (KindOf(s.action) == ActionKind::kKubectl) {
    const auto& k = std::get<KubectlAction>(s.action);
    if (describe_kube) {
      j["context"] = describe_kube(k.resolved);
    } else {
      j["context"] = k.resolved.context.empty() ? "(current-context of the kubeconfig)"
                                                : k.resolved.context;
    }
    if (!k.resolved.namespace_.empty()) j["namespace"] = k.resolved.namespace_;
  }
  for (const auto& r : raw)
    warnings->push_back("step " + s.id + " inserts {{ raw " + r +
                        " }} unquoted: the value can change the command");
  if (KindOf(s.action) == ActionKind::kHttp && std::get<HttpAction>(s.action).insecure)
    warnings->push_back("step " + s.id + " does not verify TLS certificates (insecure: true)");
  return j;
}

}  // namespace

std::string PlanHash(const Runbook& runbook, const std::map<std::string, std::string>& params,
                     const std::vector<BoundFile>& files) {
  nlohmann::json canonical;
  // The first document only, as yaml-cpp's Load read it when plans were first hashed.
  YamlTree tree;
  if (YamlTree::Error error; YamlTree::Parse(runbook.text, &tree, &error, 1)) {
    canonical["runbook"] = tree.documents() == 0 ? nullptr : YamlToJson(tree.document(0));
  } else {
    canonical["runbook"] = runbook.text;  // validated already; this is belt and braces
  }
  canonical["params"] = params;
  if (!files.empty()) {
    std::vector<BoundFile> sorted = files;
    std::sort(sorted.begin(), sorted.end());
    for (const BoundFile& f : sorted) canonical["files"].push_back({f.path, f.use, f.sha256});
  }
  return Sha256Hex(canonical.dump());
}

std::map<std::string, std::string> MaskSecretParams(
    const Runbook& runbook, std::map<std::string, std::string> params) {
  for (const ParamSpec& p : runbook.params) {
    auto it = params.find(p.name);
    if (p.secret && it != params.end()) it->second = kSecretParamMask;
  }
  return params;
}

nlohmann::json BuildPlan(const Runbook& rb, const StateMachine& machine,
                         const std::map<std::string, std::string>& real_params,
                         const KubeTargetDescriber& describe_kube, const BoundInputs& bound) {
  nlohmann::json warnings = nlohmann::json::array();
  nlohmann::json plan;
  plan["hash"] = PlanHash(rb, real_params, bound.files);
  // Everything below is for reviewers: a `secret: true` param shows as ***.
  const std::map<std::string, std::string> params = MaskSecretParams(rb, real_params);
  plan["runbook"] = rb.name;
  plan["path"] = rb.path;
  plan["description"] = ForReview(rb.description, Quoting::kNone, params, nullptr);
  plan["risk"] = RiskName(rb.risk);
  plan["environment"] = rb.environment;
  plan["owner"] = rb.owner;
  plan["estimated_duration"] = rb.estimated_duration;
  plan["lock"] = rb.lock;
  plan["params"] = nlohmann::json::array();
  for (const ParamSpec& p : rb.params) {
    auto it = params.find(p.name);
    plan["params"].push_back({{"name", p.name},
                              {"value", it != params.end() ? it->second : ""},
                              {"description", p.description}});
  }
  plan["secrets"] = nlohmann::json::array();
  for (const SecretSpec& s : rb.secrets)
    plan["secrets"].push_back(
        {{"name", s.name},
         {"from", (s.source == SecretSpec::Source::kEnv ? "env " : "file ") + s.ref}});
  for (const auto* list : {&rb.prechecks, &rb.verify, &rb.rollback}) {
    const char* key = list == &rb.prechecks ? "prechecks" : list == &rb.verify ? "verify"
                                                                               : "rollback";
    plan[key] = nlohmann::json::array();
    for (const StepSpec& s : *list)
      plan[key].push_back(StepJson(s, params, &warnings, describe_kube));
  }
  plan["steps"] = nlohmann::json::array();
  plan["irreversible"] = nlohmann::json::array();
  for (const StepSpec& s : rb.steps) {
    nlohmann::json j = StepJson(s, params, &warnings, describe_kube);
    nlohmann::json undo = {{"kind", "unset"}, {"actions", nlohmann::json::array()}};
    switch (s.rollback.kind) {
      case RollbackSpec::Kind::kUnset:
        undo["kind"] = "unset";
        plan["irreversible"].push_back(s.id);
        warnings.push_back("step " + s.id + " has no rollback: a failure after it leaves it in place");
        break;
      case RollbackSpec::Kind::kNone:
        undo["kind"] = "none";
        plan["irreversible"].push_back(s.id);
        warnings.push_back("step " + s.id + " is irreversible (rollback: none)");
        break;
      case RollbackSpec::Kind::kAuto:
        undo["kind"] = "auto";
        undo["actions"].push_back({{"id", s.id},
                                   {"description",
                                    "put back what " + j["description"].get<std::string>() +
                                        " changes, as recorded before it: workloads to their "
                                        "revisions, other objects (Service, ConfigMap, Secret, "
                                        "...) as they were; objects it creates are deleted"}});
        break;
      case RollbackSpec::Kind::kActions:
        undo["kind"] = "actions";
        for (const StepSpec& a : s.rollback.actions)
          undo["actions"].push_back(StepJson(a, params, &warnings, describe_kube));
        break;
    }
    j["rollback"] = undo;
    plan["steps"].push_back(j);
  }
  plan["files"] = bound.files;
  for (const std::string& note : bound.unbound)
    warnings.push_back("not bound by this plan: " + note);
  plan["known_issues"] = rb.known_issues;
  plan["purpose"] = rb.purpose;
  plan["checklist"] = rb.checklist;
  if (!rb.impact.empty()) {
    plan["impact"] = {{"downtime", rb.impact.downtime},
                      {"rollback_time", rb.impact.rollback_time},
                      {"dependencies", rb.impact.dependencies},
                      {"data_migration", rb.impact.data_migration}};
  }
  if (rb.approval) {
    nlohmann::json rules = nlohmann::json::array();
    for (const ApprovalRule& r : rb.approval->rules) {
      auto members = rb.approval->team.find(r.role);
      std::string when = r.Describe();
      when = when.size() > r.role.size() ? when.substr(r.role.size() + 6) : "";  // " when "
      rules.push_back({{"role", r.role},
                       {"required", r.required},
                       {"when", when},
                       {"members", members != rb.approval->team.end()
                                       ? members->second
                                       : std::vector<std::string>{}}});
    }
    plan["approval"] = {{"required", rb.approval->required},
                        {"approvers", rb.approval->approvers},
                        {"signed", !rb.approval->allowed_signers.empty()},
                        {"expires_ms", rb.approval->expires.count()},
                        {"rules", rules}};
  }
  plan["warnings"] = warnings;
  plan["states"] = machine.states().size();
  plan["transitions"] = machine.transitions().size();
  return plan;
}

}  // namespace runbook
