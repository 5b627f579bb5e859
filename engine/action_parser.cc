#include "engine/action_parser.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <vector>

#include "engine/manifest_template.h"
#include "engine/pattern.h"

namespace runbook {

namespace {

constexpr std::string_view kShellKeys[] = {"command", "cwd", "env"};
constexpr std::string_view kKubectlKeys[] = {"target",     "apply",   "args",     "wait",
                                             "kubeconfig", "context", "namespace"};
constexpr std::string_view kHttpKeys[] = {
    "url",           "method",          "headers",      "body",
    "expect_status", "body_contains",   "body_regex",   "json",
    "retries",       "interval",        "timeout",      "ca_file",
    "insecure",      "connect_timeout", "max_redirects"};

std::vector<std::string_view> SshActionKeys() {
  std::vector<std::string_view> keys = {"target", "command", "batch", "max_fail"};
  keys.insert(keys.end(), std::begin(kSshTargetKeys), std::end(kSshTargetKeys));
  return keys;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool ValidPort(std::string_view s) {
  return IsDigits(s) && s.size() <= 5 && std::atoi(std::string(s).c_str()) >= 1 &&
         std::atoi(std::string(s).c_str()) <= 65535;
}

}  // namespace

bool ValidHost(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '/' || c == '@') return false;
  }
  if (host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view rest = host.substr(close + 1);
    return rest.empty() || (rest[0] == ':' && ValidPort(rest.substr(1)));
  }
  size_t colon = host.find(':');
  if (colon == std::string_view::npos) return true;
  if (host.find(':', colon + 1) != std::string_view::npos) return true;  // a bare IPv6 address
  return colon > 0 && ValidPort(host.substr(colon + 1));
}

namespace {

const Target* FindTarget(const Runbook& runbook, const YamlField& field, Validator& v,
                         Target::Kind want, std::string_view action, std::string* name) {
  if (!v.reader().GetString(field, name)) return nullptr;
  auto it = runbook.targets.find(*name);
  if (it == runbook.targets.end()) {
    std::string known;
    for (const auto& [n, t] : runbook.targets) {
      if (t.kind == want) known += (known.empty() ? "" : ", ") + n;
    }
    v.reader().Error(
        YamlReader::ValueLoc(field),
        std::string(action) + ": no target '" + *name + "'" +
            (known.empty() ? " (declare it under targets)" : " (targets: " + known + ")"));
    return nullptr;
  }
  if (it->second.kind != want) {
    v.reader().Error(YamlReader::ValueLoc(field),
                     std::string(action) + ": target '" + *name + "' is " +
                         (it->second.kind == Target::Kind::kSsh
                              ? "an ssh target (it has hosts); kubectl needs one with kubeconfig, "
                                "context or namespace"
                              : "a kubernetes target; ssh needs one with hosts"));
    return nullptr;
  }
  return &it->second;
}

bool ParseShell(const YamlField& field, const StepPosition& pos, Validator& v, ShellAction* out) {
  YamlReader& r = v.reader();
  if (field.value.IsScalar()) {
    out->command = field.value.Scalar();
    v.CheckTemplate(out->command, Quoting::kShell, YamlReader::ValueLoc(field), pos);
    return true;
  }
  if (!field.value.IsMap()) {
    r.Error(YamlReader::ValueLoc(field),
            "shell: expected a command or a mapping {command, cwd, env}, got " +
                YamlReader::Describe(field.value));
    return false;
  }
  YamlFields f;
  r.ReadMap(field.value, YamlReader::ValueLoc(field), "shell action", kShellKeys, &f);
  bool ok = true;
  if (const YamlField* c = f.Find("command")) {
    if (r.GetString(*c, &out->command)) {
      v.CheckTemplate(out->command, Quoting::kShell, YamlReader::ValueLoc(*c), pos);
    } else {
      ok = false;
    }
  } else {
    if (!f.Misspelt("command")) {
      r.Error(YamlReader::ValueLoc(field), "shell: missing required key 'command'");
    }
    ok = false;
  }
  if (const YamlField* c = f.Find("cwd"); c && r.GetString(*c, &out->cwd)) {
    v.CheckTemplate(out->cwd, Quoting::kNone, YamlReader::ValueLoc(*c), pos);
    out->cwd = v.ResolvePath(out->cwd);
  }
  if (const YamlField* e = f.Find("env"); e && r.GetStringMap(*e, &out->env)) {
    for (const auto& [name, value] : out->env) {
      v.CheckTemplate(value, Quoting::kNone, YamlReader::ValueLoc(*e), pos);
    }
  }
  return ok;
}

bool ParseSsh(const YamlField& field, const StepPosition& pos, const Runbook& runbook, Validator& v,
              SshAction* out) {
  YamlReader& r = v.reader();
  static const std::vector<std::string_view> keys = SshActionKeys();
  YamlFields f;
  if (!r.ReadMap(field.value, YamlReader::ValueLoc(field), "ssh action", keys, &f)) return false;
  bool ok = true;
  out->resolved = DefaultSshTarget();
  if (const YamlField* t = f.Find("target")) {
    const Target* target = FindTarget(runbook, *t, v, Target::Kind::kSsh, "ssh", &out->target);
    if (target != nullptr) {
      out->resolved = target->ssh;
    } else {
      ok = false;
    }
  }
  ok = ReadSshTargetFields(f, v, &out->resolved) && ok;
  if (ok && out->resolved.hosts.empty()) {
    r.Error(YamlReader::ValueLoc(field), "ssh: no hosts: name a 'target' or give 'hosts'");
    ok = false;
  }
  if (const YamlField* c = f.Find("command")) {
    if (r.GetString(*c, &out->command)) {
      v.CheckTemplate(out->command, Quoting::kShell, YamlReader::ValueLoc(*c), pos);
    } else {
      ok = false;
    }
  } else {
    if (!f.Misspelt("command")) {
      r.Error(YamlReader::ValueLoc(field), "ssh: missing required key 'command'");
    }
    ok = false;
  }
  if (const YamlField* b = f.Find("batch")) ok = r.GetInt(*b, 0, 100000, &out->batch) && ok;
  if (const YamlField* m = f.Find("max_fail")) {
    const std::string text(m->value.Scalar());
    bool percent = !text.empty() && text.back() == '%';
    std::string number = percent ? text.substr(0, text.size() - 1) : text;
    if (IsDigits(number) && number.size() <= 6 && (!percent || std::atoi(number.c_str()) <= 100)) {
      out->max_fail = {std::atoi(number.c_str()), percent};
    } else {
      r.Error(YamlReader::ValueLoc(*m),
              "max_fail: expected a number of hosts or a percentage "
              "such as 25%, got " +
                  YamlReader::Describe(m->value) +
                  (text.find("{{") != std::string::npos
                       ? "; max_fail does not accept placeholders (only text fields do): write "
                         "the value itself"
                       : ""));
      ok = false;
    }
  }
  return ok;
}

bool ParseKubectl(const YamlField& field, const StepPosition& pos, const Runbook& runbook,
                  Validator& v, KubectlAction* out) {
  YamlReader& r = v.reader();
  YamlFields f;
  if (!r.ReadMap(field.value, YamlReader::ValueLoc(field), "kubectl action", kKubectlKeys, &f)) {
    return false;
  }
  bool ok = true;
  if (const YamlField* t = f.Find("target")) {
    const Target* target = FindTarget(runbook, *t, v, Target::Kind::kKube, "kubectl", &out->target);
    if (target != nullptr) {
      out->resolved = target->kube;
    } else {
      ok = false;
    }
  }
  ok = ReadKubeTargetFields(f, v, &out->resolved) && ok;
  const YamlField* apply = f.Find("apply");
  const YamlField* args = f.Find("args");
  if ((apply == nullptr) == (args == nullptr)) {
    r.Error(YamlReader::ValueLoc(field),
            apply ? "kubectl: give either 'apply' or 'args', not both"
                  : "kubectl: missing 'apply' (a manifest file or folder) or 'args' (a kubectl "
                    "command line as a list)");
    ok = false;
  }
  if (apply != nullptr) {
    if (r.GetString(*apply, &out->apply)) {
      v.CheckTemplate(out->apply, Quoting::kNone, YamlReader::ValueLoc(*apply), pos);
      if (IsUrl(out->apply)) {
        r.Error(YamlReader::ValueLoc(*apply),
                "apply: " + out->apply +
                    " is a URL; download the manifests into the runbook's folder and apply that "
                    "path, so that a plan binds exactly what runs");
        ok = false;
      } else {
        out->apply = v.ResolvePath(out->apply);
        v.CheckManifests(out->apply, YamlReader::ValueLoc(*apply), pos);
      }
    } else {
      ok = false;
    }
  }
  if (args != nullptr) {
    if (r.GetStringList(*args, &out->args)) {
      for (const std::string& arg : out->args) {
        v.CheckTemplate(arg, Quoting::kNone, YamlReader::ValueLoc(*args), pos);
      }
      if (out->args.empty()) {
        r.Error(YamlReader::ValueLoc(*args), "args: empty list; give the kubectl arguments");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (const YamlField* w = f.Find("wait")) ok = r.GetDuration(*w, &out->wait) && ok;
  return ok;
}

/// One expected status: 200, "200" or a class such as "2xx".
bool ParseStatus(const YamlNode& node, StatusRange* out) {
  if (!node.IsScalar()) return false;
  const std::string s(node.Scalar());
  if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
      (s[2] == 'x' || s[2] == 'X')) {
    int base = (s[0] - '0') * 100;
    *out = {base, base + 99};
    return true;
  }
  if (IsDigits(s) && s.size() == 3) {
    int code = std::atoi(s.c_str());
    if (code < 100 || code > 599) return false;
    *out = {code, code};
    return true;
  }
  return false;
}

/// A YAML scalar as the JSON value it reads as: quoted text stays a string, plain 42 is a
/// number, plain true a boolean, an empty value null.
nlohmann::json ScalarToJson(const YamlNode& node) {
  if (node.IsNull()) return nullptr;
  const std::string s(node.Scalar());
  if (node.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  nlohmann::json parsed = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_number()) return parsed;
  return s;
}

bool ParseHttp(const YamlField& field, const StepPosition& pos, Validator& v, HttpAction* out,
               YamlFields* f, HttpTiming* timing) {
  YamlReader& r = v.reader();
  if (field.value.IsScalar()) {  // http: URL
    out->url = field.value.Scalar();
    v.CheckTemplate(out->url, Quoting::kNone, YamlReader::ValueLoc(field), pos);
    return true;
  }
  if (!r.ReadMap(field.value, YamlReader::ValueLoc(field), "http action", kHttpKeys, f)) {
    return false;
  }
  bool ok = true;
  if (const YamlField* u = f->Find("url")) {
    if (r.GetString(*u, &out->url)) {
      v.CheckTemplate(out->url, Quoting::kNone, YamlReader::ValueLoc(*u), pos);
      if (out->url.rfind("{{", 0) != 0 && out->url.rfind("http://", 0) != 0 &&
          out->url.rfind("https://", 0) != 0) {
        r.Error(YamlReader::ValueLoc(*u),
                "url: '" + out->url + "' is not an http:// or https:// url");
        ok = false;
      }
    } else {
      ok = false;
    }
  } else {
    if (!f->Misspelt("url"))
      r.Error(YamlReader::ValueLoc(field), "http: missing required key 'url'");
    ok = false;
  }
  if (const YamlField* m = f->Find("method"); m && r.GetString(*m, &out->method)) {
    std::transform(out->method.begin(), out->method.end(), out->method.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    if (out->method.empty() || !std::all_of(out->method.begin(), out->method.end(),
                                            [](char c) { return c >= 'A' && c <= 'Z'; })) {
      r.Error(YamlReader::ValueLoc(*m),
              "method: invalid http method '" + std::string(m->value.Scalar()) + "'");
      ok = false;
    }
  }
  if (const YamlField* h = f->Find("headers"); h && r.GetStringMap(*h, &out->headers)) {
    for (const auto& [name, value] : out->headers) {
      v.CheckTemplate(value, Quoting::kNone, YamlReader::ValueLoc(*h), pos);
    }
  }
  if (const YamlField* b = f->Find("body"); b && r.GetString(*b, &out->body)) {
    v.CheckTemplate(out->body, Quoting::kNone, YamlReader::ValueLoc(*b), pos);
  }
  if (const YamlField* b = f->Find("body_contains"); b && r.GetString(*b, &out->body_contains)) {
    v.CheckTemplate(out->body_contains, Quoting::kNone, YamlReader::ValueLoc(*b), pos);
  }
  if (const YamlField* b = f->Find("body_regex"); b && r.GetString(*b, &out->body_regex)) {
    if (Result<Pattern> re = Pattern::Compile(out->body_regex); !re.ok()) {
      r.Error(YamlReader::ValueLoc(*b),
              "body_regex: '" + out->body_regex +
                  "' is not a valid regular expression (RE2: " + re.message() + ")");
      ok = false;
    }
  }
  if (const YamlField* s = f->Find("expect_status")) {
    std::vector<YamlNode> items;
    if (s->value.IsSequence()) {
      for (const YamlNode& item : s->value.items()) items.push_back(item);
    } else {
      items.push_back(s->value);
    }
    for (const YamlNode& item : items) {
      StatusRange range;
      if (ParseStatus(item, &range)) {
        out->expect_status.push_back(range);
      } else {
        SourceLoc loc = LocOf(item).line > 0 ? LocOf(item) : YamlReader::ValueLoc(*s);
        r.Error(loc,
                "expect_status: expected a status such as 200, a list of them, or a class "
                "such as 2xx, got " +
                    YamlReader::Describe(item));
        ok = false;
      }
    }
  }
  if (const YamlField* j = f->Find("json")) {
    if (!j->value.IsMap()) {
      r.Error(YamlReader::ValueLoc(*j), "json: expected a mapping of JSON paths to values, got " +
                                            YamlReader::Describe(j->value));
      ok = false;
    } else {
      for (const auto& [key, value] : j->value.pairs()) {
        const std::string path(key.Scalar());
        if (path.empty() || path[0] != '$') {
          r.Error(LocOf(key), "json: keys are JSON paths such as \"$.status\", got " +
                                  YamlReader::Describe(key));
          ok = false;
        } else if (!value.IsScalar() && !value.IsNull()) {
          r.Error(LocOf(value), "json: the value for " + path +
                                    " must be a string, number, "
                                    "boolean or null, got " +
                                    YamlReader::Describe(value));
          ok = false;
        } else {
          nlohmann::json expected = ScalarToJson(value);
          // The runner renders expected strings as templates: check them like every other.
          if (expected.is_string())
            v.CheckTemplate(expected.get<std::string>(), Quoting::kNone, LocOf(value), pos);
          out->json.emplace_back(path, std::move(expected));
        }
      }
    }
  }
  if (const YamlField* c = f->Find("ca_file"); c && r.GetString(*c, &out->ca_file)) {
    out->ca_file = v.ResolvePath(out->ca_file);
  }
  if (const YamlField* i = f->Find("insecure")) ok = r.GetBool(*i, &out->insecure) && ok;
  if (const YamlField* c = f->Find("connect_timeout")) {
    ok = r.GetDuration(*c, &out->connect_timeout) && ok;
  }
  if (const YamlField* m = f->Find("max_redirects")) {
    ok = r.GetInt(*m, 0, 100, &out->max_redirects) && ok;
  }
  timing->retries = f->Find("retries");
  timing->interval = f->Find("interval");
  timing->timeout = f->Find("timeout");
  return ok;
}

}  // namespace

SshTarget DefaultSshTarget() {
  SshTarget t;
  const char* user = std::getenv("USER");
  t.user = user != nullptr && *user != '\0' ? user : "root";
  t.port = 22;
  t.known_hosts = HomeDir() + "/.ssh/known_hosts";
  t.connect_timeout = Duration(10000);
  return t;
}

bool ReadSshTargetFields(const YamlFields& f, Validator& v, SshTarget* t) {
  YamlReader& r = v.reader();
  bool ok = true;
  if (const YamlField* h = f.Find("hosts")) {
    std::vector<std::string> hosts;
    if (h->value.IsScalar()) hosts.emplace_back(h->value.Scalar());  // one host
    if (h->value.IsScalar() || r.GetStringList(*h, &hosts)) {
      for (const std::string& host : hosts) {
        if (host.find("{{") != std::string::npos) {  // checked once rendered (BindTargets)
          v.CheckTemplate(host, Quoting::kNone, YamlReader::ValueLoc(*h), {}, true);
          continue;
        }
        if (!ValidHost(host)) {
          r.Error(YamlReader::ValueLoc(*h),
                  "hosts: invalid host '" + host + "' (use name, name:port or an address)");
          ok = false;
        }
      }
      if (hosts.empty()) {
        r.Error(YamlReader::ValueLoc(*h), "hosts: empty list");
        ok = false;
      }
      t->hosts = std::move(hosts);
    } else {
      ok = false;
    }
  }
  if (const YamlField* u = f.Find("user")) {
    if (r.GetString(*u, &t->user)) {
      v.CheckTemplate(t->user, Quoting::kNone, YamlReader::ValueLoc(*u), {}, true);
    } else {
      ok = false;
    }
  }
  if (const YamlField* p = f.Find("port")) ok = r.GetInt(*p, 1, 65535, &t->port) && ok;
  if (const YamlField* i = f.Find("identity_file")) {
    if (r.GetString(*i, &t->identity_file)) {
      v.CheckTemplate(t->identity_file, Quoting::kNone, YamlReader::ValueLoc(*i), {}, true);
      t->identity_file = v.ResolvePath(t->identity_file);
    } else {
      ok = false;
    }
  }
  if (const YamlField* s = f.Find("passphrase_secret")) {
    if (r.GetString(*s, &t->passphrase_secret)) {
      if (!v.HasSecret(t->passphrase_secret)) {
        r.Error(YamlReader::ValueLoc(*s), "passphrase_secret: no secret '" + t->passphrase_secret +
                                              "' (declare it under secrets)");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (const YamlField* k = f.Find("known_hosts")) {
    if (r.GetString(*k, &t->known_hosts)) {
      v.CheckTemplate(t->known_hosts, Quoting::kNone, YamlReader::ValueLoc(*k), {}, true);
      t->known_hosts = v.ResolvePath(t->known_hosts);
    } else {
      ok = false;
    }
  }
  if (const YamlField* c = f.Find("host_key_checking")) {
    std::string mode;
    if (r.GetString(*c, &mode) && (mode == "strict" || mode == "accept-new")) {
      t->host_key_checking =
          mode == "strict" ? HostKeyChecking::kStrict : HostKeyChecking::kAcceptNew;
    } else {
      if (c->value.IsScalar()) {
        r.Error(YamlReader::ValueLoc(*c),
                "host_key_checking: '" + mode + "' is not one of strict, accept-new");
      }
      ok = false;
    }
  }
  if (const YamlField* c = f.Find("connect_timeout")) {
    ok = r.GetDuration(*c, &t->connect_timeout) && ok;
  }
  if (const YamlField* k = f.Find("keepalive")) ok = r.GetDuration(*k, &t->keepalive) && ok;
  return ok;
}

bool ReadKubeTargetFields(const YamlFields& f, Validator& v, KubeTarget* t) {
  YamlReader& r = v.reader();
  bool ok = true;
  if (const YamlField* k = f.Find("kubeconfig")) {
    if (r.GetString(*k, &t->kubeconfig)) {
      v.CheckTemplate(t->kubeconfig, Quoting::kNone, YamlReader::ValueLoc(*k), {}, true);
      t->kubeconfig = v.ResolvePath(t->kubeconfig);
    } else {
      ok = false;
    }
  }
  for (auto [key, value] : {std::pair{"context", &t->context}, {"namespace", &t->namespace_}}) {
    const YamlField* field = f.Find(key);
    if (field == nullptr) continue;
    if (r.GetString(*field, value)) {
      v.CheckTemplate(*value, Quoting::kNone, YamlReader::ValueLoc(*field), {}, true);
    } else {
      ok = false;
    }
  }
  return ok;
}

bool ParseAction(const YamlField& field, const StepPosition& pos, const Runbook& runbook,
                 Validator& v, Action* out, YamlFields* storage, HttpTiming* timing) {
  if (field.key == "shell") {
    ShellAction a;
    bool ok = ParseShell(field, pos, v, &a);
    *out = std::move(a);
    return ok;
  }
  if (field.key == "ssh") {
    SshAction a;
    bool ok = ParseSsh(field, pos, runbook, v, &a);
    *out = std::move(a);
    return ok;
  }
  if (field.key == "kubectl") {
    KubectlAction a;
    bool ok = ParseKubectl(field, pos, runbook, v, &a);
    *out = std::move(a);
    return ok;
  }
  HttpAction a;
  bool ok = ParseHttp(field, pos, v, &a, storage, timing);
  *out = std::move(a);
  return ok;
}

}  // namespace runbook
