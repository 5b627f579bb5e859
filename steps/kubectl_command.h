// Running the real kubectl for one step attempt. Every invocation names its cluster
// explicitly (--kubeconfig when the target gives one, --context and --namespace always), so a
// step never depends on whatever context the operator's kubeconfig happens to point at.
// Processes go through RunProcess (own process group, cancel_fd, timeouts); their output is
// streamed to the step's live output and kept, bounded, for the step's result.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/status.h"
#include "steps/output_buffer.h"
#include "steps/process.h"

namespace runbook {

class StepContext;

/// The cluster coordinates every kubectl call of a step gets, resolved once per attempt.
struct KubeEndpoint {
  std::string kubeconfig;  // as the target gives it; empty: kubectl's own default
  std::string context;     // always set after ResolveEndpoint
  std::string namespace_;  // always set: the target's, else the context's, else "default"
  /// The target names the namespace: every command gets --namespace. Otherwise commands run
  /// in the context's namespace as kubectl's own default, so that a manifest may name other
  /// namespaces (kubectl refuses one that differs from an explicit --namespace).
  bool namespace_given = false;
  std::string server;      // the API server URL of the context's cluster (for messages)

  /// For the audit log: {"kubeconfig", "context", "namespace", "server"}.
  nlohmann::json ToJson() const;
};

/// The kubectl binary: the first executable `kubectl` on PATH (`extra_env`'s PATH if it sets
/// one). The error says to install kubernetes-client when there is none.
Result<std::string> FindKubectl(const std::map<std::string, std::string>& extra_env);

/// A point in time after which a step attempt has run out of time; none: no limit.
class Deadline {
 public:
  Deadline() = default;
  /// `limit` 0 means no limit.
  static Deadline After(Duration limit);
  bool unlimited() const { return !at_.has_value(); }
  /// What is left (0 once passed); `fallback` when unlimited.
  Duration Remaining(Duration fallback) const;
  bool Passed() const;

 private:
  std::optional<std::chrono::steady_clock::time_point> at_;
};

/// Runs kubectl commands for one step attempt. Not thread-safe; lives for one Run().
class Kubectl {
 public:
  /// `context` must outlive this object. `phase` is the step's (a rollback action's kubectl
  /// runs even when its process_started cannot be recorded). `limit` bounds every call (the
  /// step's timeout).
  Kubectl(std::string binary, KubeEndpoint endpoint, StepContext& context, Phase phase,
          Duration kill_grace, Deadline limit);
  Kubectl(const Kubectl&) = delete;
  Kubectl& operator=(const Kubectl&) = delete;

  const KubeEndpoint& endpoint() const { return endpoint_; }

  /// The full argv: binary, cluster flags, then `args`. `ns` overrides the endpoint's
  /// namespace for objects that live elsewhere.
  std::vector<std::string> Argv(const std::vector<std::string>& args,
                                std::string_view ns = {}) const;
  /// The command line as the audit log and messages show it ("kubectl --context ... apply").
  std::string Display(const std::vector<std::string>& args, std::string_view ns = {}) const;

  /// Runs `args`, streaming each line to the step's output and keeping it for the result.
  /// `limit` (0: none) is capped by the step's deadline.
  ProcessResult Stream(const std::vector<std::string>& args, Duration limit = Duration{0},
                       std::string_view ns = {});
  /// Runs `kubectl get ARGS -o json` (through Capture) and parses it. Empty output
  /// (--ignore-not-found and nothing found) gives a null JSON value.
  Result<nlohmann::json> GetJson(const std::vector<std::string>& args, std::string_view ns = {});
  /// Runs `args` keeping up to 16 MiB of stdout (for -o json) without printing it; stderr is
  /// streamed like Stream's.
  ProcessResult Capture(const std::vector<std::string>& args, std::string_view ns = {});

  /// One line for humans about a call that did not succeed: a missing kubectl, an API server
  /// that cannot be reached (named by its URL), a timeout, an interruption, or kubectl's own
  /// error message. `what` says what was being done ("server-side dry run").
  std::string Describe(const ProcessResult& p, std::string_view what) const;
  /// True when `p` failed because the API server could not be reached.
  static bool Unreachable(const ProcessResult& p);

  /// Shows `to` instead of `from` in streamed output and messages (rendered manifests live in
  /// a temporary folder; the operator knows them by their path in the runbook).
  void RewritePaths(std::string from, std::string to);

  /// The step deadline passed during some call.
  bool deadline_hit() const { return deadline_hit_; }
  /// What every streamed call wrote, bounded to the last 64 KiB of each stream.
  std::string TakeStdout() { return std::move(stdout_).Take(); }
  std::string TakeStderr() { return std::move(stderr_).Take(); }

 private:
  ProcessResult Start(const std::vector<std::string>& args, std::string_view ns, Duration limit,
                      bool stream_stdout, size_t tail_bytes);
  std::string Rewrite(std::string_view text) const;

  std::string binary_;
  KubeEndpoint endpoint_;
  StepContext& context_;
  Phase phase_;
  Duration kill_grace_;
  Deadline deadline_;
  bool deadline_hit_ = false;
  std::string rewrite_from_, rewrite_to_;
  TailBuffer stdout_{64 * 1024};
  TailBuffer stderr_{64 * 1024};
};

/// Resolves the cluster coordinates of `target`: the context (the target's; else `recorded`,
/// the one a forward step used; else the kubeconfig's current-context, read once with
/// `kubectl config view --minify`), its namespace and server. Fails when the kubeconfig is
/// missing or the context does not exist, saying which.
/// `env` is added to kubectl's environment; `cancel_fd` (or -1) interrupts it.
Result<KubeEndpoint> ResolveEndpoint(const std::string& binary, const KubeTarget& target,
                                     const std::string& recorded,
                                     const std::map<std::string, std::string>& env, int cancel_fd);

/// The same for callers outside a step (`runbook plan` showing which context a target will
/// use): finds kubectl on PATH and resolves `target` with our environment. Reads only the
/// kubeconfig; never contacts the cluster.
Result<KubeEndpoint> ResolveKubeTarget(const KubeTarget& target);

/// "30s", "1.5s", "2m", "250ms": a duration for messages.
std::string ShortDuration(Duration d);

}  // namespace runbook
