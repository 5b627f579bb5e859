#include "engine/runbook_parser.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "engine/action_parser.h"
#include "engine/notify_parser.h"
#include "engine/pattern.h"
#include "engine/step_parser.h"
#include "engine/validator.h"

namespace runbook {

namespace {

constexpr std::string_view kRootKeys[] = {
    "runbook",   "description", "risk",   "environment", "owner",       "estimated_duration",
    "lock",      "approval",    "params", "secrets",     "targets",     "defaults",
    "prechecks", "steps",       "verify", "rollback",    "known_issues", "purpose",
    "impact",    "checklist",   "inputs",      "notify"};
constexpr std::string_view kApprovalKeys[] = {"required", "approvers", "allowed_signers",
                                              "expires",  "team",      "rules"};
constexpr std::string_view kRuleKeys[] = {"role", "required", "when"};
constexpr std::string_view kWhenKeys[] = {"environment", "param", "equals"};
constexpr std::string_view kImpactKeys[] = {"downtime", "rollback_time", "dependencies",
                                            "data_migration"};
constexpr std::string_view kParamKeys[] = {"required", "default", "pattern", "description",
                                           "secret"};
constexpr std::string_view kSecretKeys[] = {"env", "file"};
constexpr std::string_view kDefaultsKeys[] = {"timeout", "retries", "retry_delay", "kill_grace"};

bool ValidRunbookName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || c != '-')) return false;
  }
  return true;
}

/// Param and secret names become parts of environment variables (RUNBOOK_PARAM_<NAME>).
bool ValidVariableName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

class RootParser {
 public:
  RootParser(YamlReader& reader, Runbook* rb, bool read_files)
      : r_(reader), rb_(*rb), v_(&reader, rb->dir, read_files) {}

  void Parse(const YamlNode& root) {
    SourceLoc root_loc = LocOf(root).line > 0 ? LocOf(root) : SourceLoc{1, 1};
    YamlFields f;
    if (!r_.ReadMap(root, root_loc, "runbook file", kRootKeys, &f, /*allow_extensions=*/true)) {
      return;
    }

    if (const YamlField* n = f.Find("runbook")) {
      if (r_.GetString(*n, &rb_.name) && !ValidRunbookName(rb_.name)) {
        r_.Error(YamlReader::ValueLoc(*n),
                 "runbook: invalid name '" + rb_.name +
                     "': use lower-case letters, digits and '-', starting with a letter or digit");
      }
    } else if (!f.Misspelt("runbook")) {
      r_.Error(root_loc, "missing required key 'runbook' (the runbook's name)");
    }
    if (const YamlField* s = f.Find("risk")) ParseRisk(*s);
    for (auto [key, field] :
         {std::pair{"environment", &rb_.environment}, std::pair{"owner", &rb_.owner}}) {
      if (const YamlField* s = f.Find(key)) (void)r_.GetString(*s, field);
    }
    if (const YamlField* s = f.Find("estimated_duration")) {
      Duration ignored;
      if (r_.GetDuration(*s, &ignored)) rb_.estimated_duration = s->value.Scalar();
    }
    if (const YamlField* s = f.Find("lock")) {
      if (r_.GetString(*s, &rb_.lock) && rb_.lock.empty()) {
        r_.Error(YamlReader::ValueLoc(*s), "lock: empty lock name");
      }
    }
    if (rb_.lock.empty()) {
      rb_.lock = rb_.environment.empty() ? rb_.name : rb_.environment + "/" + rb_.name;
    }
    if (const YamlField* s = f.Find("approval")) ParseApproval(*s);
    if (const YamlField* s = f.Find("secrets")) ParseSecrets(*s);
    if (const YamlField* s = f.Find("params")) ParseParams(*s);
    if (const YamlField* s = f.Find("description")) {
      if (r_.GetString(*s, &rb_.description)) {
        v_.CheckTemplate(rb_.description, Quoting::kNone, YamlReader::ValueLoc(*s), {}, true);
      }
    }
    if (const YamlField* s = f.Find("targets")) ParseTargets(*s);
    if (const YamlField* s = f.Find("defaults")) ParseDefaults(*s);

    StepParser steps(rb_, &v_);
    if (const YamlField* s = f.Find("prechecks"))
      steps.ParseList(*s, Phase::kPrecheck, &rb_.prechecks);
    if (const YamlField* s = f.Find("steps")) {
      steps.ParseList(*s, Phase::kStep, &rb_.steps);
    } else if (!f.Misspelt("steps")) {
      r_.Error(root_loc, "missing required key 'steps'");
    }
    if (const YamlField* s = f.Find("verify")) steps.ParseList(*s, Phase::kVerify, &rb_.verify);
    if (const YamlField* s = f.Find("rollback"))
      steps.ParseList(*s, Phase::kRollback, &rb_.rollback);
    v_.CheckStepReferences();

    if (const YamlField* s = f.Find("known_issues"); s && !s->value.IsNull()) {
      (void)r_.GetStringList(*s, &rb_.known_issues);
    }
    if (const YamlField* s = f.Find("purpose")) (void)r_.GetString(*s, &rb_.purpose);
    if (const YamlField* s = f.Find("impact")) ParseImpact(*s);
    if (const YamlField* s = f.Find("checklist"); s && !s->value.IsNull()) ParseChecklist(*s);
    if (const YamlField* s = f.Find("inputs"); s && !s->value.IsNull()) {
      if (r_.GetStringList(*s, &rb_.inputs)) {
        for (const std::string& in : rb_.inputs)
          if (in.empty()) r_.Error(YamlReader::ValueLoc(*s), "inputs: empty path");
      }
    }
    if (rb_.approval) CheckRules(*rb_.approval);
    if (const YamlField* s = f.Find("notify")) ParseNotify(*s, r_, v_, &rb_.notify);
  }

 private:
  void ParseRisk(const YamlField& field) {
    std::string risk;
    if (!r_.GetString(field, &risk)) return;
    if (risk == "low") {
      rb_.risk = Risk::kLow;
    } else if (risk == "medium") {
      rb_.risk = Risk::kMedium;
    } else if (risk == "high") {
      rb_.risk = Risk::kHigh;
    } else {
      r_.Error(YamlReader::ValueLoc(field), "risk: '" + risk + "' is not one of low, medium, high");
    }
  }

  void ParseApproval(const YamlField& field) {
    YamlFields f;
    if (!r_.ReadMap(field.value, YamlReader::ValueLoc(field), "approval", kApprovalKeys, &f)) {
      return;
    }
    ApprovalSpec a;
    a.loc = YamlReader::ValueLoc(field);
    const YamlField* required = f.Find("required");
    if (required) (void)r_.GetInt(*required, 1, 100, &a.required);
    if (const YamlField* s = f.Find("approvers")) {
      if (r_.GetStringList(*s, &a.approvers)) {
        std::vector<std::string> seen;
        for (const std::string& who : a.approvers) {
          if (who.empty()) r_.Error(YamlReader::ValueLoc(*s), "approvers: empty name");
          for (const std::string& other : seen) {
            if (other == who) {
              r_.Error(YamlReader::ValueLoc(*s), "approvers: '" + who + "' is listed twice");
            }
          }
          seen.push_back(who);
        }
        if (!a.approvers.empty() && a.required > static_cast<int>(a.approvers.size())) {
          r_.Error(required ? YamlReader::ValueLoc(*required) : a.loc,
                   "approval: " + std::to_string(a.required) + " approvals required but only " +
                       std::to_string(a.approvers.size()) + " approvers listed");
        }
      }
    }
    if (const YamlField* s = f.Find("allowed_signers")) {
      if (r_.GetString(*s, &a.allowed_signers)) {
        a.allowed_signers = v_.ResolvePath(a.allowed_signers);
      }
    }
    if (const YamlField* s = f.Find("expires")) (void)r_.GetDuration(*s, &a.expires);
    if (const YamlField* s = f.Find("team")) ParseTeam(*s, &a);
    if (const YamlField* s = f.Find("rules"); s && !s->value.IsNull()) ParseRules(*s, &a);
    rb_.approval = std::move(a);
  }

  /// `team: ./team.yaml`: a file of `role: [member, ...]`, read now so that a missing role or
  /// a bad name is found at validation.
  void ParseTeam(const YamlField& field, ApprovalSpec* a) {
    if (!r_.GetString(field, &a->team_file)) return;
    const SourceLoc loc = YamlReader::ValueLoc(field);
    a->team_file = v_.ResolvePath(a->team_file);
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(a->team_file);
    } catch (const std::exception& e) {
      r_.Error(loc, "team: cannot read " + a->team_file + ": " + e.what());
      return;
    }
    if (!doc.IsMap()) {
      r_.Error(loc, "team: " + a->team_file + " must map each role to a list of names " +
                        "(pm: [paula])");
      return;
    }
    for (const auto& entry : doc) {
      const std::string role = entry.first.as<std::string>("");
      std::vector<std::string>& members = a->team[role];
      if (!entry.second.IsSequence()) {
        r_.Error(loc, "team: role '" + role + "' in " + a->team_file + " is not a list of names");
        continue;
      }
      for (const auto& m : entry.second) {
        std::string name = FoldName(m.as<std::string>(""));
        if (!ValidPersonName(name)) {
          r_.Error(loc, "team: '" + m.as<std::string>("") + "' (role " + role + " in " +
                            a->team_file + ") is not a name: use [a-z0-9][a-z0-9._-]*");
          continue;
        }
        members.push_back(std::move(name));
      }
    }
  }

  void ParseRules(const YamlField& field, ApprovalSpec* a) {
    if (!field.value.IsSequence()) {
      r_.Error(YamlReader::ValueLoc(field), "rules: expected a list of {role, required, when}");
      return;
    }
    for (const YamlNode& item : field.value.items()) {
      const SourceLoc loc = LocOf(item);
      YamlFields f;
      if (!r_.ReadMap(item, loc, "approval rule", kRuleKeys, &f)) continue;
      ApprovalRule rule;
      rule.loc = loc;
      if (const YamlField* s = f.Find("role")) {
        (void)r_.GetString(*s, &rule.role);
      } else {
        r_.Error(loc, "approval rule: missing 'role'");
      }
      if (const YamlField* s = f.Find("required")) (void)r_.GetInt(*s, 1, 100, &rule.required);
      if (const YamlField* s = f.Find("when")) {
        YamlFields w;
        if (r_.ReadMap(s->value, YamlReader::ValueLoc(*s), "when", kWhenKeys, &w)) {
          if (const YamlField* e = w.Find("environment")) (void)r_.GetString(*e, &rule.when_environment);
          if (const YamlField* p = w.Find("param")) (void)r_.GetString(*p, &rule.when_param);
          if (const YamlField* q = w.Find("equals")) (void)r_.GetString(*q, &rule.when_equals);
          if (rule.when_param.empty() != !w.Find("equals")) {
            r_.Error(YamlReader::ValueLoc(*s), "when: 'param' and 'equals' go together");
          }
        }
      }
      a->rules.push_back(std::move(rule));
    }
  }

  /// After the params are known: each rule names a role of the team and a declared param.
  void CheckRules(const ApprovalSpec& a) {
    for (const ApprovalRule& rule : a.rules) {
      if (rule.role.empty()) continue;
      if (a.team_file.empty()) {
        r_.Error(rule.loc, "approval rule for role '" + rule.role +
                               "': roles come from a team file; add `team: ./team.yaml`");
      } else if (!a.team.empty() && !a.team.count(rule.role)) {
        r_.Error(rule.loc, "approval rule: role '" + rule.role + "' is not in " + a.team_file);
      } else if (a.team.count(rule.role) &&
                 static_cast<int>(a.team.at(rule.role).size()) < rule.required) {
        r_.Error(rule.loc, "approval rule: " + std::to_string(rule.required) + " approvals of '" +
                               rule.role + "' required but the role has " +
                               std::to_string(a.team.at(rule.role).size()) + " members");
      }
      if (!rule.when_param.empty()) {
        bool declared = false;
        for (const ParamSpec& p : rb_.params) declared = declared || p.name == rule.when_param;
        if (!declared)
          r_.Error(rule.loc, "approval rule: 'when' names param '" + rule.when_param +
                                 "', which the runbook does not declare");
      }
    }
  }

  void ParseImpact(const YamlField& field) {
    YamlFields f;
    if (!r_.ReadMap(field.value, YamlReader::ValueLoc(field), "impact", kImpactKeys, &f)) return;
    ImpactSpec& i = rb_.impact;
    for (auto [key, out] : {std::pair{"downtime", &i.downtime},
                            std::pair{"dependencies", &i.dependencies},
                            std::pair{"data_migration", &i.data_migration}}) {
      if (const YamlField* s = f.Find(key)) (void)r_.GetString(*s, out);
    }
    if (const YamlField* s = f.Find("rollback_time")) {
      Duration ignored;
      if (r_.GetDuration(*s, &ignored)) i.rollback_time = s->value.Scalar();
    }
  }

  void ParseChecklist(const YamlField& field) {
    if (!r_.GetStringList(field, &rb_.checklist)) return;
    std::vector<std::string> seen;
    for (const std::string& item : rb_.checklist) {
      if (!ValidChecklistItem(item)) {
        r_.Error(YamlReader::ValueLoc(field),
                 "checklist: '" + item + "' is not an item name: use [a-z0-9][a-z0-9._-]* " +
                     "(it is typed as `--confirm " + item + "`)");
      }
      if (std::find(seen.begin(), seen.end(), item) != seen.end())
        r_.Error(YamlReader::ValueLoc(field), "checklist: '" + item + "' is listed twice");
      seen.push_back(item);
    }
  }

  void ParseSecrets(const YamlField& field) {
    if (field.value.IsNull()) return;
    YamlFields entries;
    if (!ReadNamedMap(field, "secrets", &entries)) return;
    for (const YamlField& e : entries.all()) {
      SecretSpec s;
      s.name = e.key;
      s.loc = LocOf(e.key_node);
      if (!ValidVariableName(s.name)) {
        r_.Error(s.loc,
                 "secrets: invalid secret name '" + s.name + "' (use letters, digits and '_')");
      }
      v_.DeclareSecret(s.name);
      YamlFields f;
      if (!r_.ReadMap(e.value, YamlReader::ValueLoc(e), "secret '" + s.name + "'", kSecretKeys,
                      &f)) {
        continue;
      }
      const YamlField* env = f.Find("env");
      const YamlField* file = f.Find("file");
      if ((env == nullptr) == (file == nullptr)) {
        r_.Error(YamlReader::ValueLoc(e), "secret '" + s.name +
                                              "': give either 'env' (an "
                                              "environment variable) or 'file' (a path), not " +
                                              (env ? "both" : "neither"));
        continue;
      }
      if (env && r_.GetString(*env, &s.ref)) {
        s.source = SecretSpec::Source::kEnv;
        if (!ValidVariableName(s.ref)) {
          r_.Error(YamlReader::ValueLoc(*env),
                   "env: invalid environment variable name '" + s.ref + "'");
        }
      }
      if (file && r_.GetString(*file, &s.ref)) {
        s.source = SecretSpec::Source::kFile;
        s.ref = v_.ResolvePath(s.ref);
      }
      rb_.secrets.push_back(std::move(s));
    }
  }

  void ParseParams(const YamlField& field) {
    if (field.value.IsNull()) return;
    YamlFields entries;
    if (!ReadNamedMap(field, "params", &entries)) return;
    for (const YamlField& e : entries.all()) {
      ParamSpec p;
      p.name = e.key;
      p.loc = LocOf(e.key_node);
      if (!ValidVariableName(p.name)) {
        r_.Error(p.loc, "params: invalid param name '" + p.name +
                            "' (use letters, digits and '_'; it becomes RUNBOOK_PARAM_" + p.name +
                            ")");
      }
      v_.DeclareParam(p.name);
      YamlFields f;
      if (!e.value.IsNull() &&
          !r_.ReadMap(e.value, YamlReader::ValueLoc(e), "param '" + p.name + "'", kParamKeys, &f)) {
        continue;
      }
      if (const YamlField* s = f.Find("required")) (void)r_.GetBool(*s, &p.required);
      if (const YamlField* s = f.Find("default")) {
        std::string value;
        if (r_.GetString(*s, &value)) p.default_value = value;
      }
      if (const YamlField* s = f.Find("description")) (void)r_.GetString(*s, &p.description);
      if (const YamlField* s = f.Find("secret")) (void)r_.GetBool(*s, &p.secret);
      if (const YamlField* s = f.Find("pattern"); s && r_.GetString(*s, &p.pattern)) {
        Result<Pattern> re = Pattern::Compile(p.pattern);
        if (!re.ok()) {
          r_.Error(YamlReader::ValueLoc(*s),
                   "pattern: '" + p.pattern +
                       "' is not a valid regular expression (RE2: " + re.message() + ")");
        } else if (p.default_value && !re->FullMatch(*p.default_value)) {
          r_.Error(YamlReader::ValueLoc(*f.Find("default")),
                   "param '" + p.name + "': default '" + *p.default_value +
                       "' does not match its pattern " + p.pattern);
        }
      }
      if (p.required && p.default_value) {
        r_.Warning(p.loc, "param '" + p.name +
                              "' is required and has a default; the default "
                              "is never used");
      }
      rb_.params.push_back(std::move(p));
    }
  }

  void ParseTargets(const YamlField& field) {
    if (field.value.IsNull()) return;
    YamlFields entries;
    if (!ReadNamedMap(field, "targets", &entries)) return;
    std::vector<std::string_view> keys(std::begin(kSshTargetKeys), std::end(kSshTargetKeys));
    keys.insert(keys.end(), std::begin(kKubeTargetKeys), std::end(kKubeTargetKeys));
    for (const YamlField& e : entries.all()) {
      Target t;
      t.name = e.key;
      t.loc = LocOf(e.key_node);
      YamlFields f;
      if (!r_.ReadMap(e.value, YamlReader::ValueLoc(e), "target '" + t.name + "'", keys, &f)) {
        continue;
      }
      bool ssh = f.Find("hosts") != nullptr;
      bool kube = false;
      for (std::string_view k : kKubeTargetKeys) kube = kube || f.Find(k) != nullptr;
      if (ssh && kube) {
        r_.Error(YamlReader::ValueLoc(e),
                 "target '" + t.name +
                     "' mixes ssh keys (hosts) with kubernetes keys "
                     "(kubeconfig, context, namespace); split it into two targets");
        continue;
      }
      if (!ssh && !kube) {
        r_.Error(YamlReader::ValueLoc(e),
                 "target '" + t.name +
                     "' has neither 'hosts' (an ssh target) nor kubeconfig, "
                     "context or namespace (a kubernetes target)");
        continue;
      }
      if (ssh) {
        t.kind = Target::Kind::kSsh;
        t.ssh = DefaultSshTarget();
        (void)ReadSshTargetFields(f, v_, &t.ssh);
      } else {
        t.kind = Target::Kind::kKube;
        for (const YamlField& k : f.all()) {
          bool is_kube = false;
          for (std::string_view kk : kKubeTargetKeys) is_kube = is_kube || k.key == kk;
          if (!is_kube) {
            r_.Error(LocOf(k.key_node), "'" + k.key + "' is an ssh key, but target '" + t.name +
                                            "' is a kubernetes target (it has no hosts)");
          }
        }
        (void)ReadKubeTargetFields(f, v_, &t.kube);
      }
      rb_.targets.emplace(t.name, std::move(t));
    }
  }

  void ParseDefaults(const YamlField& field) {
    YamlFields f;
    if (field.value.IsNull()) return;
    if (!r_.ReadMap(field.value, YamlReader::ValueLoc(field), "defaults", kDefaultsKeys, &f)) {
      return;
    }
    Defaults& d = rb_.defaults;
    if (const YamlField* s = f.Find("timeout")) (void)r_.GetDuration(*s, &d.timeout);
    if (const YamlField* s = f.Find("retries")) (void)r_.GetInt(*s, 0, 1000, &d.retries);
    if (const YamlField* s = f.Find("retry_delay")) (void)r_.GetDuration(*s, &d.retry_delay);
    if (const YamlField* s = f.Find("kill_grace")) (void)r_.GetDuration(*s, &d.kill_grace);
  }

  /// A mapping whose keys are names the runbook chooses (params, secrets, targets).
  bool ReadNamedMap(const YamlField& field, std::string_view what, YamlFields* out) {
    if (!field.value.IsMap()) {
      r_.Error(YamlReader::ValueLoc(field), std::string(what) +
                                                ": expected a mapping of names, got " +
                                                YamlReader::Describe(field.value));
      return false;
    }
    // Every key is allowed here; ReadMap still reports non-string and duplicate keys.
    std::vector<std::string> names;
    for (const YamlPair& pair : field.value.pairs()) {
      if (pair.first.IsScalar()) names.emplace_back(pair.first.Scalar());
    }
    std::vector<std::string_view> allowed(names.begin(), names.end());
    return r_.ReadMap(field.value, YamlReader::ValueLoc(field), what, allowed, out);
  }

  YamlReader& r_;
  Runbook& rb_;
  Validator v_;
};

}  // namespace

void ParseRunbook(const YamlNode& root, YamlReader& reader, Runbook* out, bool read_files) {
  RootParser(reader, out, read_files).Parse(root);
}

}  // namespace runbook
