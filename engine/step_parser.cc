#include "engine/step_parser.h"

#include <iterator>
#include <optional>

#include "engine/action_parser.h"

namespace runbook {

namespace {

constexpr std::string_view kStepKeys[] = {"id",          "name",       "shell",   "ssh",
                                          "kubectl",     "http",       "timeout", "retries",
                                          "retry_delay", "kill_grace", "outputs", "rollback"};
// Prechecks, verification checks and rollback actions: the same, without `rollback`.
constexpr std::span<const std::string_view> kCheckKeys(kStepKeys, std::size(kStepKeys) - 1);

constexpr int kMaxRetries = 1000;

bool ValidStepId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

bool ValidOutputName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const char* WhatIs(const StepPosition& pos) {
  switch (pos.group) {
    case StepPosition::Group::kPrecheck:
      return "precheck";
    case StepPosition::Group::kStep:
      return "step";
    case StepPosition::Group::kStepRollback:
    case StepPosition::Group::kGlobalRollback:
      return "rollback action";
    case StepPosition::Group::kVerify:
      return "verify check";
  }
  return "step";
}

StepPosition::Group GroupOf(Phase phase) {
  switch (phase) {
    case Phase::kPrecheck:
      return StepPosition::Group::kPrecheck;
    case Phase::kStep:
      return StepPosition::Group::kStep;
    case Phase::kVerify:
      return StepPosition::Group::kVerify;
    case Phase::kRollback:
      return StepPosition::Group::kGlobalRollback;
  }
  return StepPosition::Group::kStep;
}

}  // namespace

void StepParser::ParseList(const YamlField& field, Phase phase, std::vector<StepSpec>* out) {
  if (field.value.IsNull()) return;
  if (!field.value.IsSequence()) {
    v_.reader().Error(YamlReader::ValueLoc(field), field.key + ": expected a list of steps, got " +
                                                       YamlReader::Describe(field.value));
    return;
  }
  out->reserve(field.value.size());
  v_.ExpectSteps(field.value.size());
  int index = 0;
  for (const YamlNode& item : field.value.items()) {
    StepPosition pos{GroupOf(phase), index, -1};
    std::string generated = std::string(PhaseName(phase)) + "-" + std::to_string(index + 1);
    // Read in place: a StepSpec is large, and lists can hold 100,000 of them.
    if (!ParseStep(item, YamlReader::ValueLoc(field), pos, phase, generated,
                   &out->emplace_back())) {
      out->pop_back();
    }
    ++index;
  }
}

bool StepParser::ParseStep(const YamlNode& node, SourceLoc fallback, const StepPosition& pos,
                           Phase phase, const std::string& generated_id, StepSpec* out) {
  YamlReader& r = v_.reader();
  const char* what = WhatIs(pos);
  bool is_step = pos.group == StepPosition::Group::kStep;
  SourceLoc loc = LocOf(node).line > 0 ? LocOf(node) : fallback;
  YamlFields f;
  if (!r.ReadMap(node, loc, what,
                 is_step ? std::span<const std::string_view>(kStepKeys) : kCheckKeys, &f)) {
    return false;
  }
  out->loc = loc;
  out->phase = phase;

  // The id comes first: messages about the rest of the step name it.
  bool id_ok = true;
  SourceLoc id_loc = loc;
  if (const YamlField* id = f.Find("id")) {
    id_loc = YamlReader::ValueLoc(*id);
    if (r.GetString(*id, &out->id) && !ValidStepId(out->id)) {
      r.Error(id_loc, "invalid step id '" + out->id +
                          "': use lower-case letters, digits, '-' "
                          "and '_', starting with a letter or digit");
      id_ok = false;
    }
    id_ok = id_ok && !out->id.empty();
  } else if (is_step) {
    if (!f.Misspelt("id")) {
      r.Error(loc, "missing required key 'id' in step (every step in 'steps' needs a unique id)");
    }
    id_ok = false;
  } else {
    out->id = generated_id;
  }
  if (const YamlField* name = f.Find("name")) (void)r.GetString(*name, &out->name);
  if (out->name.empty()) out->name = out->id;
  std::string label =
      out->id.empty() ? std::string(what) : std::string(what) + " '" + out->id + "'";

  // Exactly one action.
  std::vector<const YamlField*> actions;
  for (const YamlField& field : f.all()) {
    for (std::string_view key : kActionKeys) {
      if (field.key == key) actions.push_back(&field);
    }
  }
  YamlFields http_fields;
  HttpTiming http;
  bool action_ok = false;
  bool misspelt_action = false;
  for (std::string_view action : kActionKeys)
    misspelt_action = misspelt_action || f.Misspelt(action);
  if (actions.empty() && !misspelt_action) {
    r.Error(loc, label + " has no action: add one of shell, ssh, kubectl or http");
  } else if (actions.size() > 1) {
    std::string names;
    for (size_t i = 0; i < actions.size(); ++i) {
      names += (i == 0 ? "'" : i + 1 == actions.size() ? " and '" : ", '") + actions[i]->key + "'";
    }
    r.Error(loc, label + " has " + std::to_string(actions.size()) + " actions (" + names +
                     "); a step has exactly one of shell, ssh, kubectl or http");
  } else if (actions.size() == 1) {
    out->action_loc = YamlReader::ValueLoc(*actions[0]);
    action_ok = ParseAction(*actions[0], pos, runbook_, v_, &out->action, &http_fields, &http);
  }

  // Timing: the step's own keys, else the http action's, else the runbook's defaults.
  const Defaults& d = runbook_.defaults;
  out->timeout = d.timeout;
  out->retries = d.retries;
  out->retry_delay = d.retry_delay;
  out->kill_grace = d.kill_grace;
  auto pick = [&](const char* key, const YamlField* from_http) -> const YamlField* {
    const YamlField* own = f.Find(key);
    if (own != nullptr && from_http != nullptr) {
      r.Error(LocOf(from_http->key_node), std::string("http: '") + from_http->key +
                                              "' sets the step's " + key +
                                              ", which is already given on the step; keep one");
    }
    return own != nullptr ? own : from_http;
  };
  if (const YamlField* t = pick("timeout", http.timeout)) (void)r.GetDuration(*t, &out->timeout);
  if (const YamlField* t = pick("retries", http.retries)) {
    (void)r.GetInt(*t, 0, kMaxRetries, &out->retries);
  }
  if (const YamlField* t = pick("retry_delay", http.interval)) {
    (void)r.GetDuration(*t, &out->retry_delay);
  }
  if (const YamlField* t = f.Find("kill_grace")) (void)r.GetDuration(*t, &out->kill_grace);

  if (const YamlField* o = f.Find("outputs")) {
    // The action's kind is known even when its value was wrong (ParseAction sets it).
    ParseOutputs(*o, actions.size() == 1 ? std::optional(KindOf(out->action)) : std::nullopt, out);
  }
  if (id_ok) v_.RegisterStep(out->id, pos, id_loc, out->outputs);

  if (const YamlField* rb = f.Find("rollback")) {
    ParseRollback(*rb, pos.index, out);
    if (out->rollback.kind == RollbackSpec::Kind::kAuto && action_ok) {
      const auto* kubectl = std::get_if<KubectlAction>(&out->action);
      if (kubectl == nullptr) {
        r.Error(out->rollback.loc, "rollback: auto only works for a kubectl step with 'apply'; " +
                                       label + " is a " + ActionKindName(KindOf(out->action)) +
                                       " step, so give its undo as an action");
      } else if (kubectl->apply.empty()) {
        r.Error(out->rollback.loc, "rollback: auto only works for a kubectl step with 'apply'; " +
                                       label + " runs 'args', so give its undo as an action");
      }
    }
  }
  return true;
}

void StepParser::ParseOutputs(const YamlField& field, std::optional<ActionKind> kind,
                              StepSpec* step) {
  YamlReader& r = v_.reader();
  std::map<std::string, std::string> sources;
  if (!field.value.IsMap()) {
    r.Error(YamlReader::ValueLoc(field),
            "outputs: expected a mapping of names to sources (stdout, stderr, body or $.path), "
            "got " +
                YamlReader::Describe(field.value));
    return;
  }
  for (const YamlPair& pair : field.value.pairs()) {
    YamlField entry{std::string(pair.first.Scalar()), pair.first, pair.second};
    SourceLoc loc = LocOf(pair.first);
    if (!ValidOutputName(entry.key)) {
      r.Error(loc, "outputs: invalid output name " + YamlReader::Describe(pair.first) +
                       " (use letters, digits, '_' and '-')");
      continue;
    }
    std::string source;
    if (!r.GetString(entry, &source)) continue;
    bool http_only = source == "body" || source.rfind("$", 0) == 0;
    if (source != "stdout" && source != "stderr" && !http_only) {
      r.Error(YamlReader::ValueLoc(entry), "outputs: unknown source '" + source + "' for '" +
                                               entry.key +
                                               "' (use stdout, stderr, body or $.path)");
      continue;
    }
    if (http_only && kind && *kind != ActionKind::kHttp) {
      r.Error(YamlReader::ValueLoc(entry),
              "outputs: source '" + source + "' is only for http steps; use stdout or stderr");
      continue;
    }
    bool duplicate = false;
    for (const OutputSpec& o : step->outputs) duplicate = duplicate || o.name == entry.key;
    if (duplicate) {
      r.Error(loc, "outputs: duplicate output '" + entry.key + "'");
      continue;
    }
    step->outputs.push_back({entry.key, source});
  }
}

void StepParser::ParseRollback(const YamlField& field, int step_index, StepSpec* step) {
  YamlReader& r = v_.reader();
  RollbackSpec& rb = step->rollback;
  rb.loc = YamlReader::ValueLoc(field);
  const std::string parent = step->id.empty() ? "step-" + std::to_string(step_index + 1) : step->id;
  auto parse_action = [&](const YamlNode& node, int action) {
    StepPosition pos{StepPosition::Group::kStepRollback, step_index, action};
    StepSpec spec;
    if (ParseStep(node, rb.loc, pos, Phase::kRollback,
                  parent + "-rollback-" + std::to_string(action + 1), &spec)) {
      rb.actions.push_back(std::move(spec));
    }
  };
  const char* expected =
      "expected an action such as {shell: \"...\"}, a list of actions, "
      "'auto' (kubectl apply) or 'none' (cannot be undone)";
  if (field.value.IsScalar()) {
    const std::string_view s = field.value.Scalar();
    if (s == "auto") {
      rb.kind = RollbackSpec::Kind::kAuto;
    } else if (s == "none") {
      rb.kind = RollbackSpec::Kind::kNone;
    } else {
      r.Error(rb.loc, "rollback: " + std::string(expected) + ", got '" + std::string(s) + "'");
    }
    return;
  }
  if (field.value.IsMap()) {
    rb.kind = RollbackSpec::Kind::kActions;
    parse_action(field.value, 0);
    return;
  }
  if (field.value.IsSequence() && field.value.size() > 0) {
    rb.kind = RollbackSpec::Kind::kActions;
    int action = 0;
    for (const YamlNode& item : field.value.items()) parse_action(item, action++);
    return;
  }
  r.Error(rb.loc,
          "rollback: " + std::string(expected) + ", got " +
              (field.value.IsSequence() ? "an empty list" : YamlReader::Describe(field.value)));
}

}  // namespace runbook
