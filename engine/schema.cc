#include "engine/schema.h"

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <utility>

namespace runbook {

namespace {

using Json = nlohmann::ordered_json;

Json Ref(const char* name) { return {{"$ref", std::string("#/definitions/") + name}}; }

Json Str(const char* description) { return {{"type", "string"}, {"description", description}}; }

Json With(Json schema, const char* description) {
  schema["description"] = description;
  return schema;
}

Json Int(const char* description, int minimum) {
  return {{"type", "integer"}, {"minimum", minimum}, {"description", description}};
}

/// Copies every key of the object `from` into `into`.
void Merge(const Json& from, Json* into) {
  for (const auto& [key, value] : from.items()) (*into)[key] = value;
}

Json Bool(const char* description) { return {{"type", "boolean"}, {"description", description}}; }

Json StringList(const char* description) {
  return {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}

Json StringMap(const char* description) {
  return {{"type", "object"},
          {"additionalProperties", {{"type", "string"}}},
          {"description", description}};
}

Json Object(Json properties, std::initializer_list<const char*> required = {}) {
  Json o = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (required.size() > 0) {
    o["required"] = Json::array();
    for (const char* r : required) o["required"].push_back(r);
  }
  return o;
}

Json SshTargetProperties() {
  return {
      {"hosts", With({{"oneOf",
                       {{{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}},
                        {{"type", "string"}}}}},
                     "Hosts to run on: \"name\" or \"name:port\" (a list, or one host).")},
      {"user", Str("Login user (default: $USER).")},
      {"port",
       {{"type", "integer"},
        {"minimum", 1},
        {"maximum", 65535},
        {"description", "Port for hosts written without :port (default 22)."}}},
      {"identity_file", Str("Private key file; ~ and relative paths are resolved. Default: "
                            "ssh-agent.")},
      {"passphrase_secret", Str("Name of a secret holding the key's passphrase.")},
      {"known_hosts", Str("known_hosts file checked strictly (default ~/.ssh/known_hosts).")},
      {"host_key_checking",
       {{"enum", {"strict", "accept-new"}},
        {"description",
         "strict: unknown or changed keys fail the step; accept-new: record "
         "unknown keys, still refuse changed ones."}}},
      {"connect_timeout", With(Ref("duration"), "Connect timeout per host (default 10s).")},
      {"keepalive", With(Ref("duration"), "Keepalive interval (default: none).")},
  };
}

Json KubeTargetProperties() {
  return {
      {"kubeconfig", Str("kubeconfig file (default: kubectl's).")},
      {"context", Str("kubeconfig context.")},
      {"namespace", Str("Namespace.")},
  };
}

Json Actions() {
  Json shell = {{"description",
                 "Runs /bin/sh -c COMMAND in the runbook's folder. Placeholders are "
                 "inserted shell-quoted; do not put them inside quotes."},
                {"oneOf",
                 {Str("The command."),
                  Object({{"command", Ref("shellTemplate")},
                          {"cwd", Str("Working folder, relative to the runbook's folder.")},
                          {"env", StringMap("Environment variables added for the command.")}},
                         {"command"})}}};

  Json ssh_props = {
      {"target", Str("Name of an ssh target.")},
      {"command", Ref("shellTemplate")},
      {"batch", Int("Hosts at a time (default: all at once).", 0)},
      {"max_fail", With({{"oneOf",
                          {{{"type", "integer"}, {"minimum", 0}},
                           {{"type", "string"}, {"pattern", "^[0-9]+%$"}}}}},
                        "Hosts that may fail: a count or a percentage such as 25% (default 0).")},
  };
  Merge(SshTargetProperties(), &ssh_props);
  Json ssh = Object(ssh_props, {"command"});
  ssh["description"] = "Runs a command on every host of a target over SSH.";

  Json kubectl_props = {
      {"target", Str("Name of a kubernetes target.")},
      {"apply", Str("Manifest file or folder to apply (server-side dry run first; the "
                    "revisions it changes are recorded for rollback: auto).")},
      {"args", StringList("Any kubectl command line, e.g. [rollout, restart, deploy/web].")},
      {"wait", With(Ref("duration"), "Wait this long for rollouts to finish (default: no wait).")},
  };
  Merge(KubeTargetProperties(), &kubectl_props);
  Json kubectl = Object(kubectl_props);
  kubectl["oneOf"] = {{{"required", {"apply"}}}, {{"required", {"args"}}}};
  kubectl["description"] = "Runs the real kubectl against a target.";

  Json status_one = {{"oneOf",
                      {{{"type", "integer"}, {"minimum", 100}, {"maximum", 599}},
                       {{"type", "string"}, {"pattern", "^([1-5][0-9][0-9]|[1-5][xX][xX])$"}}}}};
  Json http = Object(
      {{"url", Str("http:// or https:// URL (a template).")},
       {"method",
        {{"type", "string"},
         {"description", "HTTP method (default GET)."},
         {"examples", {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}}}},
       {"headers", StringMap("Request headers (values are templates).")},
       {"body", Str("Request body (a template).")},
       {"expect_status",
        With({{"oneOf", {status_one, {{"type", "array"}, {"items", status_one}}}}},
             "Accepted status: a code, a list of codes, or a class such as 2xx (default 2xx).")},
       {"body_contains", Str("The body must contain this text.")},
       {"body_regex", Str("The body must match this RE2 regular expression somewhere.")},
       {"json",
        {{"type", "object"},
         {"propertyNames", {{"pattern", "^\\$"}}},
         {"additionalProperties", {{"type", {"string", "number", "boolean", "null"}}}},
         {"description",
          "JSON paths of the body and the values they must have, e.g. "
          "{\"$.status\": UP}."}}},
       {"retries", Int("Extra tries (the step's retries).", 0)},
       {"interval", With(Ref("duration"), "Delay between tries (the step's retry_delay).")},
       {"timeout", With(Ref("duration"), "Timeout of each try (the step's timeout).")},
       {"ca_file", Str("CA bundle to verify the server with.")},
       {"insecure", Bool("Skip TLS verification (default false).")},
       {"connect_timeout", With(Ref("duration"), "Connect timeout (default 5s).")},
       {"max_redirects", Int("Redirects to follow (default 5).", 0)}},
      {"url"});
  http["description"] = "An HTTP request and what its answer must look like.";
  Json http_or_url = {{"description", http["description"]},
                      {"oneOf", {Str("The URL to GET (expecting a 2xx answer)."), http}}};
  return {{"shell", shell}, {"ssh", ssh}, {"kubectl", kubectl}, {"http", http_or_url}};
}

/// The keys every step may have. `with_rollback` adds `rollback` (steps in `steps`).
Json StepObject(bool id_required, bool with_rollback) {
  Json props = {
      {"id", With(Ref("stepId"), id_required ? "Unique id; other steps read its results as "
                                               "{{ steps.ID.stdout }}."
                                             : "Optional unique id (generated when omitted).")},
      {"name", Str("Human name (defaults to the id).")},
      {"shell", Ref("shell")},
      {"ssh", Ref("ssh")},
      {"kubectl", Ref("kubectl")},
      {"http", Ref("http")},
      {"timeout", With(Ref("duration"), "Timeout of each attempt (default: defaults.timeout).")},
      {"retries", Int("Extra attempts after a failure (default: defaults.retries).", 0)},
      {"retry_delay", With(Ref("duration"), "Delay between attempts.")},
      {"kill_grace", With(Ref("duration"), "Time between SIGTERM and SIGKILL (default 5s).")},
      {"outputs",
       {{"type", "object"},
        {"propertyNames", {{"pattern", "^[A-Za-z0-9_-]+$"}}},
        {"additionalProperties", {{"type", "string"}, {"pattern", "^(stdout|stderr|body|\\$.*)$"}}},
        {"description",
         "Values kept for later steps: name: stdout, stderr, body or "
         "a JSON path $.a.b (http)."}}},
  };
  if (with_rollback) {
    props["rollback"] = {
        {"description",
         "How to undo this step: an action, a list of actions, auto (kubectl "
         "apply) or none (cannot be undone)."},
        {"oneOf",
         {{{"enum", {"auto", "none"}}},
          Ref("rollbackAction"),
          {{"type", "array"}, {"items", Ref("rollbackAction")}, {"minItems", 1}}}}};
  }
  Json step = Object(props, id_required ? std::initializer_list<const char*>{"id"}
                                        : std::initializer_list<const char*>{});
  step["oneOf"] = {{{"required", {"shell"}}},
                   {{"required", {"ssh"}}},
                   {{"required", {"kubectl"}}},
                   {{"required", {"http"}}}};
  return step;
}

Json StepList(const char* definition, const char* description) {
  return {{"type", "array"}, {"items", Ref(definition)}, {"description", description}};
}

}  // namespace

std::string RunbookJsonSchema() {
  Json definitions = {
      {"duration",
       {{"type", "string"},
        {"pattern", "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"},
        {"description", "A duration: 500ms, 30s, 5m, 2h or 1h30m."}}},
      {"stepId", {{"type", "string"}, {"pattern", "^[a-z0-9][a-z0-9_-]*$"}}},
      {"shellTemplate",
       Str("Shell command. Placeholders ({{ params.NAME }}, {{ secrets.NAME }}, "
           "{{ steps.ID.stdout }}, {{ steps.ID.outputs.NAME }}, {{ run.id }}, {{ env.NAME }}) "
           "are inserted shell-quoted; {{ raw ... }} inserts unquoted.")},
  };
  Merge(Actions(), &definitions);
  definitions["step"] = StepObject(true, true);
  definitions["check"] = StepObject(false, false);
  definitions["rollbackAction"] = StepObject(false, false);

  Json target = {{"type", "object"},
                 {"description",
                  "An ssh target (hosts) or a kubernetes "
                  "target (kubeconfig, context, namespace)."}};
  target["oneOf"] = {Object(SshTargetProperties(), {"hosts"}), [] {
                       Json kube = Object(KubeTargetProperties());
                       kube["minProperties"] = 1;
                       return kube;
                     }()};

  Json props = {
      {"runbook",
       {{"type", "string"},
        {"pattern", "^[a-z0-9][a-z0-9-]*$"},
        {"description", "The runbook's name."}}},
      {"description", Str("What the runbook does; may use {{ params.NAME }}.")},
      {"risk", {{"enum", {"low", "medium", "high"}}, {"description", "Risk (default medium)."}}},
      {"environment", Str("Environment; part of the default lock.")},
      {"owner", Str("Owning team or person.")},
      {"estimated_duration", With(Ref("duration"), "How long a run usually takes.")},
      {"lock", Str("Lock name; runs on one lock never overlap (default "
                   "\"<environment>/<runbook>\").")},
      {"approval",
       With(Object({{"required", Int("Distinct approvers needed (default 1).", 1)},
                    {"approvers", StringList("Who may approve (default: anyone but the "
                                             "requester).")},
                    {"allowed_signers", Str("ssh allowed_signers file; approvals must then be "
                                            "signed.")},
                    {"expires", With(Ref("duration"),
                                     "Approvals older than this no longer "
                                     "count.")},
                    {"team", Str("YAML file mapping each role to its members "
                                 "({pm: [paula]}), relative to the runbook.")},
                    {"rules",
                     {{"type", "array"},
                      {"description", "Role approvals needed when a condition holds."},
                      {"items",
                       Object({{"role", Str("A role of the team file.")},
                               {"required", Int("Approvals of that role needed (default 1).", 1)},
                               {"when",
                                Object({{"environment", Str("Applies in this environment.")},
                                        {"param", Str("Applies when this param...")},
                                        {"equals", Str("...has this value.")}})}},
                              {"role"})}}}}),
            "When present, `run` needs an approved plan.")},
      {"params",
       {{"type", "object"},
        {"description", "Parameters passed with -p NAME=VALUE."},
        {"propertyNames", {{"pattern", "^[A-Za-z_][A-Za-z0-9_]*$"}}},
        {"additionalProperties",
         {{"oneOf",
           {{{"type", "null"}},
            Object({{"required", Bool("The run refuses to start without it.")},
                    {"default",
                     {{"type", {"string", "number", "boolean"}},
                      {"description", "Value when not given."}}},
                    {"pattern", Str("RE2 regular expression the whole value must match.")},
                    {"description", Str("What the param is for.")},
                    {"secret", Bool("Redact the value like a secret.")}})}}}}}},
      {"secrets",
       {{"type", "object"},
        {"description", "Secrets, never written to the audit log or the terminal."},
        {"propertyNames", {{"pattern", "^[A-Za-z_][A-Za-z0-9_]*$"}}},
        {"additionalProperties",
         {{"oneOf",
           {Object({{"env", Str("Environment variable holding the secret.")}}, {"env"}),
            Object({{"file", Str("File holding the secret (one trailing newline is "
                                 "dropped).")}},
                   {"file"})}}}}}},
      {"targets",
       {{"type", "object"},
        {"description", "Named ssh and kubernetes targets."},
        {"additionalProperties", target}}},
      {"defaults",
       With(Object({{"timeout", With(Ref("duration"), "Default step timeout (default: none).")},
                    {"retries", Int("Default extra attempts (default 0).", 0)},
                    {"retry_delay", With(Ref("duration"),
                                         "Default delay between attempts "
                                         "(default 2s).")},
                    {"kill_grace", With(Ref("duration"),
                                        "Default SIGTERM-to-SIGKILL grace "
                                        "(default 5s).")}}),
            "Defaults for every step that does not set its own.")},
      {"prechecks", StepList("check",
                             "Checks before anything changes; a failure aborts the "
                             "run.")},
      {"steps", StepList("step", "The changes, in order; each with its rollback.")},
      {"verify", StepList("check", "Checks after the steps; a failure rolls everything back.")},
      {"rollback", StepList("rollbackAction",
                            "Run after the per-step rollbacks whenever a "
                            "rollback happens.")},
      {"known_issues", StringList("Notes shown in the plan.")},
      {"purpose", Str("Why the change is made (the change request's first line).")},
      {"impact",
       Object({{"downtime", Str("Expected downtime.")},
               {"rollback_time", With(Ref("duration"), "How long a rollback takes.")},
               {"dependencies", Str("What else the change touches.")},
               {"data_migration", Str("Data the change migrates.")}})},
      {"checklist", StringList("Manual items confirmed at `run` with --confirm ITEM.")},
      {"inputs", StringList("Files the run uses (paths or globs relative to the runbook), "
                            "bound into the plan hash.")},
      {"notify",
       {{"type", "array"},
        {"description", "Webhooks told about runs and approvals (docs/notifications.md)."},
        {"items",
         Object({{"url", Str("The URL to post to; may be {{ secrets.NAME }}.")},
                 {"on", StringList("run_started, succeeded, aborted, "
                                       "rolled_back, rollback_failed, approval_requested, "
                                       "approved; default: all.")},
                 {"timeout", With(Ref("duration"), "The whole request (default 5s).")},
                 {"ca_file", Str("PEM file of CAs to trust, as the http action's.")},
                 {"insecure", Bool("No TLS verification, as the http action's.")}},
                {"url"})}}},
  };
  Json schema = {
      {"$schema", "http://json-schema.org/draft-07/schema#"},
      {"title", "runbook"},
      {"description", "A deployment runbook: prechecks, steps with rollbacks, verification."},
      {"type", "object"},
      {"required", {"runbook", "steps"}},
      {"additionalProperties", false},
      {"patternProperties",
       {{"^x-",
         {{"description", "Ignored: a place for YAML anchors (&name) to share settings."}}}}},
      {"properties", props},
      {"definitions", definitions},
  };
  return schema.dump(2);
}

}  // namespace runbook
