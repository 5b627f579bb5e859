#include "app/change_request.h"

#include <algorithm>

#include "app/templates.h"

namespace runbook {
namespace {

std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json List(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nlohmann::json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : nlohmann::json::array();
}

// `text` split into lines as a reviewer sees them: no line after a final newline, none at all
// for "".
nlohmann::json Lines(const std::string& text) {
  nlohmann::json lines = nlohmann::json::array();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

// A step, check or rollback action of the plan. Every key is set, null when it does not apply,
// so that a template never picks up an outer item's value of the same name.
nlohmann::json StepItem(const nlohmann::json& step, int number) {
  nlohmann::json item = step.is_object() ? step : nlohmann::json::object();
  const std::string id = StringField(step, "id"), name = StringField(step, "name");
  const std::string description = StringField(step, "description");
  item["number"] = number;
  item["id"] = id;
  item["name"] = name;
  item["other_name"] = name != id ? name : "";
  item["action"] = StringField(step, "action");
  item["description"] = description;
  item["description_lines"] = Lines(description);
  item["multiline"] = description.find('\n') != std::string::npos;
  item["context"] = StringField(step, "context");
  item["settings"] = List(step, "settings");
  item["diff_lines"] = Lines(StringField(step, "diff"));
  item["has_diff"] = !item["diff_lines"].empty();
  item["diff_none"] = step.is_object() && step.value("diff_none", false);
  item["diff_error"] = StringField(step, "diff_error");
  item["namespace"] = StringField(step, "namespace");
  item["undo"] = nullptr;
  if (!step.is_object() || !step.contains("rollback") || !step["rollback"].is_object())
    return item;
  const nlohmann::json& rollback = step["rollback"];
  const std::string kind = StringField(rollback, "kind");
  nlohmann::json actions = nlohmann::json::array();
  int n = 0;
  for (const auto& a : List(rollback, "actions")) actions.push_back(StepItem(a, ++n));
  item["undo"] = {{"kind", kind},
                  {"none", kind == "none"},
                  {"unset", kind == "unset"},
                  {"actions", actions}};
  return item;
}

// What the plan binds besides the runbook and params (engine/bound_file.h): `files` with each
// path padded to the longest, so that the digests line up, and what each use means.
void AddFiles(const nlohmann::json& plan, nlohmann::json* c) {
  nlohmann::json files = nlohmann::json::array();
  size_t width = 0;
  for (const auto& f : List(plan, "files")) width = std::max(width, StringField(f, "path").size());
  for (const auto& f : List(plan, "files")) {
    const std::string path = StringField(f, "path"), use = StringField(f, "use");
    std::string use_text = use;
    if (use == "manifest") use_text = "kubectl manifest, rendered with the params";
    if (use == "input") use_text = "listed under inputs:";
    if (use == "command") use_text = "named in a shell command";
    files.push_back({{"path", path},
                     {"path_padded", path + std::string(width - path.size(), ' ')},
                     {"sha256", StringField(f, "sha256")},
                     {"use", use},
                     {"use_text", use_text}});
  }
  (*c)["has_files"] = !files.empty();
  (*c)["files"] = std::move(files);
}

}  // namespace

nlohmann::json ChangeRequestContext(const nlohmann::json& plan) {
  nlohmann::json c = plan.is_object() ? plan : nlohmann::json::object();
  for (const char* key : {"runbook", "plan_id", "description", "risk", "environment", "owner",
                          "estimated_duration", "lock", "requested_by", "hash"})
    c[key] = StringField(plan, key);
  for (const char* key : {"states", "transitions"})
    if (!c.contains(key)) c[key] = "?";
  c["approval"] = nullptr;
  if (plan.is_object() && plan.contains("approval") && plan["approval"].is_object()) {
    nlohmann::json a = plan["approval"];
    std::string from;
    for (const auto& name : List(a, "approvers"))
      if (name.is_string()) from += (from.empty() ? "" : " ") + name.get<std::string>();
    a["approvers_text"] = from;
    if (!a.contains("signed")) a["signed"] = false;
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : List(a, "rules")) {
      std::string members;
      for (const auto& m : List(r, "members"))
        if (m.is_string()) members += (members.empty() ? "" : ", ") + m.get<std::string>();
      rules.push_back({{"role", StringField(r, "role")},
                       {"required", r.is_object() ? r.value("required", 1) : 1},
                       {"when", StringField(r, "when")},
                       {"members_text", members}});
    }
    a["rules"] = rules;
    c["approval"] = a;
  }
  c["purpose"] = StringField(plan, "purpose");
  c["impact"] = nullptr;
  if (plan.is_object() && plan.contains("impact") && plan["impact"].is_object()) {
    nlohmann::json impact;
    for (const char* key : {"downtime", "rollback_time", "dependencies", "data_migration"})
      impact[key] = StringField(plan["impact"], key);
    c["impact"] = impact;
  }
  for (const char* key :
       {"params", "secrets", "irreversible", "warnings", "known_issues", "checklist"}) {
    c[key] = List(plan, key);
    c[std::string("has_") + key] = !c[key].empty();
  }
  for (nlohmann::json& p : c["params"]) {
    nlohmann::json item;
    for (const char* key : {"name", "value", "description"}) item[key] = StringField(p, key);
    p = item;
  }
  for (nlohmann::json& s : c["secrets"]) {
    nlohmann::json item;
    for (const char* key : {"name", "from"}) item[key] = StringField(s, key);
    s = item;
  }

  AddFiles(plan, &c);

  c["step_lists"] = nlohmann::json::array();
  for (const char* key : {"prechecks", "steps", "verify", "rollback"}) {
    nlohmann::json items = nlohmann::json::array();
    int n = 0;
    for (const auto& s : List(plan, key)) items.push_back(StepItem(s, ++n));
    if (items.empty()) continue;
    const std::string k = key;
    c["step_lists"].push_back({{"kind", k},
                               {"is_prechecks", k == "prechecks"},
                               {"is_steps", k == "steps"},
                               {"is_verify", k == "verify"},
                               {"is_rollback", k == "rollback"},
                               {"items", items}});
  }
  return c;
}

Result<std::string> RenderChangeRequest(const nlohmann::json& plan,
                                        const std::optional<DocumentTemplate>& custom) {
  const DocumentTemplate builtin{"built-in change-request.md", std::string(kChangeRequestTemplate)};
  return RenderDocument(custom ? *custom : builtin, ChangeRequestContext(plan), Escaping::kNone);
}

}  // namespace runbook
