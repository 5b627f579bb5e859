// The typed model of a runbook (SPEC §1). The loader (loader.h) builds it from YAML and the
// validator fills in defaults and resolves targets, so that everything downstream (compiler,
// executor, step runners) reads plain, complete data. Template fields hold the template text
// as written ("echo {{ params.version }}"); they are rendered at run time through StepContext.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace runbook {

using Duration = std::chrono::milliseconds;

/// A position in the runbook file, counted from 1; line 0 means unknown.
struct SourceLoc {
  int line = 0;
  int col = 0;
};

enum class Risk { kLow, kMedium, kHigh };

/// The phase a step belongs to; also the `phase` column of the audit log.
enum class Phase { kPrecheck, kStep, kVerify, kRollback };

const char* PhaseName(Phase phase);  // "precheck", "step", "verify", "rollback"
const char* RiskName(Risk risk);     // "low", "medium", "high"

// ---------------------------------------------------------------- targets

enum class HostKeyChecking { kStrict, kAcceptNew };

/// Where and how to reach a fleet over SSH. Every field is filled after validation
/// (defaults applied; `~` expanded; relative paths made absolute against the runbook folder).
struct SshTarget {
  std::vector<std::string> hosts;  // "name" or "name:port"
  std::string user;                // default: $USER
  int port = 22;                   // used for hosts without ":port"
  std::string identity_file;       // empty: ssh-agent
  std::string passphrase_secret;   // name of a secret holding the key's passphrase, or empty
  std::string known_hosts;         // default ~/.ssh/known_hosts
  HostKeyChecking host_key_checking = HostKeyChecking::kStrict;
  Duration connect_timeout{10000};
  Duration keepalive{0};           // 0: no keepalive
};

/// A Kubernetes cluster and namespace. Empty fields mean "not given" (kubectl's default).
struct KubeTarget {
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
};

struct Target {
  enum class Kind { kSsh, kKube };
  std::string name;
  Kind kind = Kind::kSsh;
  SshTarget ssh;
  KubeTarget kube;
  SourceLoc loc;
};

// ---------------------------------------------------------------- actions

/// `/bin/sh -c command`. command, cwd and env values are templates.
struct ShellAction {
  std::string command;
  std::string cwd;  // empty: the runbook file's folder (Runbook::dir)
  std::map<std::string, std::string> env;
};

/// How many hosts may fail: a count, or a percentage of the hosts.
struct FailBudget {
  int value = 0;
  bool percent = false;
  /// The number of hosts that may fail out of `hosts`.
  int Allowed(int hosts) const { return percent ? (hosts * value) / 100 : value; }
};

struct SshAction {
  std::string target;    // name in Runbook::targets, or empty for an inline target
  SshTarget resolved;    // the target after merging inline keys over the named one
  std::string command;   // template
  int batch = 0;         // 0: all hosts at once
  FailBudget max_fail;
};

struct KubectlAction {
  std::string target;    // name in Runbook::targets, or empty
  KubeTarget resolved;
  std::string apply;     // template: a manifest file or folder; empty when `args` is used
  std::vector<std::string> args;  // templates
  Duration wait{0};      // 0: do not wait for rollouts
};

/// One accepted status: an exact code, or a class such as 2xx (low..high inclusive).
struct StatusRange {
  int low = 200;
  int high = 299;
};

struct HttpAction {
  std::string url;                             // template
  std::string method = "GET";
  std::map<std::string, std::string> headers;  // values are templates
  std::string body;                            // template
  std::vector<StatusRange> expect_status;      // empty: 2xx
  std::string body_contains;                   // template; empty: no check
  std::string body_regex;                      // RE2 pattern searched for; empty: no check
  std::vector<std::pair<std::string, nlohmann::json>> json;  // "$.a.b" -> expected scalar
  std::string ca_file;
  bool insecure = false;
  Duration connect_timeout{5000};
  int max_redirects = 5;
};

using Action = std::variant<ShellAction, SshAction, KubectlAction, HttpAction>;

enum class ActionKind { kShell, kSsh, kKubectl, kHttp };
ActionKind KindOf(const Action& action);
const char* ActionKindName(ActionKind kind);  // "shell", "ssh", "kubectl", "http"

// ---------------------------------------------------------------- steps

/// `outputs: {name: source}`; source is "stdout", "stderr", "body" or a JSON path "$.a.b".
struct OutputSpec {
  std::string name;
  std::string source;
};

struct StepSpec;

/// What undoes a step. kUnset: the runbook says nothing (no undo, flagged by plan);
/// kNone: explicitly irreversible; kAuto: the action's own undo (kubectl apply);
/// kActions: one or more steps run in order.
struct RollbackSpec {
  enum class Kind { kUnset, kNone, kAuto, kActions };
  Kind kind = Kind::kUnset;
  std::vector<StepSpec> actions;
  SourceLoc loc;
};

/// A step of any phase. Prechecks, verification checks and rollback actions use the same
/// type; only steps of the `steps` phase have a rollback.
struct StepSpec {
  std::string id;    // unique across the runbook; generated ("verify-1") where not written
  std::string name;  // human name; defaults to the id
  Phase phase = Phase::kStep;
  Action action;
  Duration timeout{0};      // 0: none (after validation: defaults.timeout)
  int retries = 0;          // extra attempts after the first
  Duration retry_delay{0};
  Duration kill_grace{5000};
  std::vector<OutputSpec> outputs;
  RollbackSpec rollback;
  SourceLoc loc;          // the step's mapping
  SourceLoc action_loc;   // the action key's value
};

// ---------------------------------------------------------------- the runbook

struct ParamSpec {
  std::string name;
  bool required = false;
  std::optional<std::string> default_value;
  std::string pattern;  // RE2 pattern the whole value must match; empty: any
  std::string description;
  bool secret = false;  // masked like a secret wherever it would be printed or stored
  SourceLoc loc;
};

struct SecretSpec {
  enum class Source { kEnv, kFile };
  std::string name;
  Source source = Source::kEnv;
  std::string ref;  // the environment variable, or the file path (absolute after validation)
  SourceLoc loc;
};

/// A person's name as typed (`--as " Alice"`, a team file) made comparable: trimmed and
/// ASCII case-folded (SPEC §5: "alice", "Alice" and "alice " are one person).
std::string FoldName(std::string_view name);
/// Whether a folded name is `[a-z0-9][a-z0-9._-]*` (at most 64 characters).
bool ValidPersonName(std::string_view folded);
/// A checklist item is named like a person: it is typed as `--confirm ITEM`.
inline bool ValidChecklistItem(std::string_view item) { return ValidPersonName(item); }

/// A role's approval that a plan needs when its condition holds (SPEC §5, "Roles and
/// conditions"): `{role: pm, required: 1, when: {environment: production}}`.
struct ApprovalRule {
  std::string role;
  int required = 1;
  std::string when_environment;  // the runbook's environment must be this; empty: any
  std::string when_param;        // a param whose value must equal when_equals; empty: none
  std::string when_equals;
  SourceLoc loc;

  /// "pm when environment is production", "backend-lead when api_change = yes", "qa".
  std::string Describe() const;
};

struct ApprovalSpec {
  int required = 1;
  std::vector<std::string> approvers;  // empty: anyone but the requester
  std::string allowed_signers;         // absolute path, or empty
  Duration expires{0};                 // 0: never
  std::string team_file;               // absolute path of the role file, or empty
  /// Role -> members (normalised names), read from team_file when the runbook is loaded.
  std::map<std::string, std::vector<std::string>> team;
  std::vector<ApprovalRule> rules;
  SourceLoc loc;
};

/// What the change would cost if it goes wrong (the change request's impact analysis).
struct ImpactSpec {
  std::string downtime;
  std::string rollback_time;  // a duration as written ("5m"); validated
  std::string dependencies;
  std::string data_migration;
  bool empty() const {
    return downtime.empty() && rollback_time.empty() && dependencies.empty() &&
           data_migration.empty();
  }
};

// ---------------------------------------------------------------- notifications

/// What a `notify:` entry may be told about (docs/notifications.md). The names are written in
/// runbooks, settings files, payloads and audit records; they never change.
enum class NotifyEvent {
  kRunStarted,
  kRunSucceeded,
  kRunAborted,     // failed before anything changed (a precheck), nothing to undo
  kRunRolledBack,
  kRollbackFailed,
  kApprovalRequested,
  kApprovalApproved,  // the last event: keep kNotifyEventCount in step
};
inline constexpr int kNotifyEventCount = static_cast<int>(NotifyEvent::kApprovalApproved) + 1;

const char* NotifyEventName(NotifyEvent event);  // "run_started", "approved", ...
/// The event named `name`; nullopt for an unknown name.
std::optional<NotifyEvent> ParseNotifyEvent(std::string_view name);

/// One webhook of `notify:` (in a runbook, or in the settings file).
struct NotifyTarget {
  std::string webhook;              // template: params, secrets, env and run id only
  std::vector<NotifyEvent> events;  // empty: every event
  Duration timeout{10000};          // the whole request (SPEC section 7: 10 s)
  std::string ca_file;              // as the http action's: empty means the system's CAs
  bool insecure = false;            // as the http action's: no TLS verification
  SourceLoc loc;

  bool Wants(NotifyEvent event) const;
};

struct Defaults {
  Duration timeout{0};  // 0: no timeout
  int retries = 0;
  Duration retry_delay{2000};
  Duration kill_grace{5000};
};

struct Runbook {
  std::string path;  // as given on the command line
  std::string dir;   // absolute folder of the file: default cwd of shell steps
  std::string text;  // the exact file contents

  std::string name;
  std::string description;  // template (params only)
  std::string purpose;      // why the change is made (the change request's first line)
  ImpactSpec impact;
  /// Manual items confirmed at `run` (`--confirm ITEM`) before anything runs.
  std::vector<std::string> checklist;
  /// Files the run uses besides its manifests and scripts (paths or globs, relative to the
  /// runbook): bound into the plan hash.
  std::vector<std::string> inputs;
  Risk risk = Risk::kMedium;
  std::string environment;
  std::string owner;
  std::string estimated_duration;
  std::string lock;  // after validation: "<environment>/<name>" when not written
  std::optional<ApprovalSpec> approval;
  std::vector<ParamSpec> params;
  std::vector<SecretSpec> secrets;
  std::map<std::string, Target> targets;
  Defaults defaults;
  std::vector<StepSpec> prechecks;
  std::vector<StepSpec> steps;
  std::vector<StepSpec> verify;
  std::vector<StepSpec> rollback;  // the global rollback list
  std::vector<std::string> known_issues;
  std::vector<NotifyTarget> notify;

  /// A step of any phase by id, or nullptr.
  const StepSpec* FindStep(const std::string& id) const;
};

}  // namespace runbook
