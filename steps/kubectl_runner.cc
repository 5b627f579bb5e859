// The `kubectl` action (SPEC §1, docs/kubectl.md): one attempt of an apply, of any kubectl
// command (`args`), or of the automatic undo of an apply (`rollback: auto`).
//
// apply:  render manifests -> server-side dry run (its output names every object touched)
//         -> read and record what exists and at which revision (audit event
//         `kubectl_revisions`, and the step's undo_state) -> kubectl apply
//         -> `kubectl rollout status` for each workload within `wait`.
// undo:   in reverse order, `rollout undo --to-revision` for each recorded workload (to the
//         current number of its recorded revision) and `delete` for each created object,
//         then wait for the rollouts back.
// A dry run stops after the server-side dry run.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include "engine/sha256.h"
#include "engine/step_runner.h"
#include "steps/kubectl_command.h"
#include "steps/kubectl_history.h"
#include "steps/kubectl_manifests.h"
#include "steps/kubectl_objects.h"
#include "steps/step_runners.h"

namespace runbook {
namespace {

using Outcome = StepResult::Outcome;

/// How long a rollback waits for its rollouts when the step gives no `wait`.
constexpr Duration kDefaultUndoWait{5 * 60 * 1000};
/// Extra time a `rollout status --timeout=T` process gets beyond T before it is killed.
constexpr Duration kStatusSlack{10000};

std::string GoDuration(Duration d) {
  return std::to_string(std::max<long long>(d.count(), 1)) + "ms";
}

/// What a dry run does with an `args` command.
enum class DryRunMode {
  kServerDryRun,  // mutating, and kubectl supports --dry-run=server for it
  kReadOnly,      // changes nothing: run it as is
  kSkip,          // cannot be checked without doing it: do not run
};

DryRunMode DryRunModeOf(const std::vector<std::string>& args) {
  std::vector<std::string> words;  // the subcommand words, flags skipped
  for (const auto& a : args) {
    if (a.empty() || a[0] == '-') continue;
    words.push_back(a);
    if (words.size() == 2) break;
  }
  if (words.empty()) return DryRunMode::kSkip;
  const std::string& verb = words[0];
  const std::string sub = words.size() > 1 ? words[1] : "";
  for (const char* v :
       {"apply", "create", "delete", "replace", "patch", "annotate", "label", "scale", "set",
        "expose", "autoscale", "run", "taint", "drain", "cordon", "uncordon"}) {
    if (verb == v) return DryRunMode::kServerDryRun;
  }
  if (verb == "rollout") {
    if (sub == "undo") return DryRunMode::kServerDryRun;
    if (sub == "status" || sub == "history") return DryRunMode::kReadOnly;
    return DryRunMode::kSkip;
  }
  for (const char* v : {"get", "describe", "logs", "version", "api-resources", "api-versions",
                        "explain", "top", "diff", "events", "cluster-info", "auth"}) {
    if (verb == v) return DryRunMode::kReadOnly;
  }
  return DryRunMode::kSkip;
}

class KubectlRunner : public StepRunner {
 public:
  explicit KubectlRunner(std::string restore_dir) : restore_dir_(std::move(restore_dir)) {}

  StepResult Run(const StepRequest& request, StepContext& context) override {
    auto started = std::chrono::steady_clock::now();
    StepResult result = RunAttempt(request, context);
    result.duration =
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
    result.detail["duration_ms"] = result.duration.count();
    return result;
  }

 private:
  StepResult RunAttempt(const StepRequest& request, StepContext& context) {
    StepResult result;
    const auto* action = std::get_if<KubectlAction>(&request.step->action);
    if (action == nullptr) {
      result.error = "internal error: the kubectl runner was given a step of another kind";
      return result;
    }
    if (context.cancelled()) {
      result.outcome = Outcome::kCancelled;
      result.error = "interrupted";
      return result;
    }
    Result<std::string> binary = FindKubectl(context.extra_env());
    if (!binary.ok()) {
      result.error = binary.message();
      return result;
    }
    std::string recorded;
    if (request.auto_rollback && request.undoing_result != nullptr &&
        request.undoing_result->detail.is_object()) {
      recorded = request.undoing_result->detail.value("context", "");
    }
    Result<KubeEndpoint> endpoint = ResolveEndpoint(*binary, action->resolved, recorded,
                                                    context.extra_env(), context.cancel_fd());
    if (!endpoint.ok()) {
      result.error = endpoint.message();
      return result;
    }
    result.detail["context"] = endpoint->context;
    result.detail["namespace"] = endpoint->namespace_;
    result.detail["server"] = endpoint->server;
    Status recorded_target = context.Record(EventKind::kKubectlTarget, endpoint->ToJson());
    if (!recorded_target.ok()) {
      result.error = "cannot record the kubectl target: " + recorded_target.message();
      return result;
    }

    Kubectl kubectl(*binary, *endpoint, context, request.phase, request.step->kill_grace,
                    Deadline::After(request.step->timeout));
    if (request.auto_rollback) {
      Undo(request, *action, context, kubectl, result);
    } else if (!action->apply.empty()) {
      Apply(request, *action, context, kubectl, result);
    } else {
      Args(request, *action, context, kubectl, result);
    }
    result.stdout_text = kubectl.TakeStdout();
    result.stderr_text = kubectl.TakeStderr();
    return result;
  }

  /// Marks `result` failed by call `p`: interrupted, out of time, or failed.
  static void Fail(StepResult& result, const Kubectl& kubectl, const ProcessResult& p,
                   std::string_view what) {
    result.exit_status = p.exit_status;
    result.error = kubectl.Describe(p, what);
    if (p.cancelled) {
      result.outcome = Outcome::kCancelled;
      result.error = "interrupted";
    } else if (p.timed_out && kubectl.deadline_hit()) {
      result.outcome = Outcome::kTimedOut;
    } else {
      result.outcome = Outcome::kFailed;
    }
  }

  static KubeGetJson Getter(Kubectl& kubectl) {
    return [&kubectl](const std::vector<std::string>& args, const std::string& ns) {
      return kubectl.GetJson(args, ns);
    };
  }

  /// `kubectl rollout status` for `ref` within `budget`; empty on success, else why not.
  static std::string WaitForRollout(Kubectl& kubectl, const KubeObjectRef& ref, Duration budget,
                                    StepContext& context, ProcessResult* out) {
    if (budget.count() <= 0) return "no time was left to wait for the rollout";
    context.Progress("waiting for the rollout of " + ref.Display());
    *out = kubectl.Stream({"rollout", "status", ref.ResourceArg() + "/" + ref.name,
                           "--timeout=" + GoDuration(budget)},
                          budget + kStatusSlack, ref.namespace_);
    if (out->ok()) return "";
    std::string why = kubectl.Describe(*out, "rollout status");
    if (out->stderr_tail.find("timed out waiting") != std::string::npos) {
      why = "timed out after " + ShortDuration(budget) + " waiting for the rollout";
    }
    return why;
  }

  // ------------------------------------------------------------------ apply

  void Apply(const StepRequest& request, const KubectlAction& action, StepContext& context,
             Kubectl& kubectl, StepResult& result) {
    std::string path = context.Render(action.apply, Quoting::kNone);
    auto manifests = RenderedManifests::Render(path, context);
    if (!manifests.ok()) {
      result.error = manifests.message();
      return;
    }
    const RenderedManifests& rendered = **manifests;
    kubectl.RewritePaths(rendered.temp_dir(), rendered.source_dir());
    result.detail["manifests"] = rendered.sources();
    result.detail["rendered_manifests"] = rendered.digests();
    if (request.early_dry_run && rendered.uses_step_outputs()) {
      SkipEarly(context, result, "its manifests use earlier steps' outputs");
      return;
    }

    // 1. The server-side dry run: a failure here means nothing has changed.
    ProcessResult dry =
        kubectl.Capture(
            {"apply", "--dry-run=server", rendered.apply_flag(), rendered.apply_path(), "-o", "json"});
    if (!dry.ok()) {
      if (request.early_dry_run) {
        if (std::string why = NeedsEarlierStep(*request.step, context, dry.stderr_tail);
            !why.empty()) {
          SkipEarly(context, result, why);
          return;
        }
      }
      Fail(result, kubectl, dry, "server-side dry run");
      return;
    }
    auto objects = ParseObjectRefs(dry.stdout_tail);
    if (!objects.ok()) {
      result.error = "server-side dry run: " + objects.message();
      return;
    }
    nlohmann::json touched = nlohmann::json::array();
    for (const auto& ref : *objects) {
      std::string where = ref.namespace_.empty() ? "" : " (namespace " + ref.namespace_ + ")";
      context.OutputLine("", false, ref.Display() + where + ": server-side dry run passed", false);
      touched.push_back(ref.Display() + where);
    }
    result.detail["objects"] = touched;
    if (request.dry_run) {
      result.detail["dry_run"] = true;
      result.outcome = Outcome::kSucceeded;
      result.exit_status = 0;
      return;
    }

    // 2. What is there now, durable before anything changes.
    auto states = ReadPriorState(*objects, Getter(kubectl));
    if (!states.ok()) {
      result.error = "reading the current revisions: " + states.message();
      if (kubectl.deadline_hit()) result.outcome = Outcome::kTimedOut;
      return;
    }
    KeepPriorsOutOfTheLog(request, context, &*states);
    const auto images_after = WorkloadImages(dry.stdout_tail);
    nlohmann::json revisions = nlohmann::json::array();
    for (const auto& s : *states) {
      nlohmann::json entry = {{"object", s.ref.Display()},
                              {"kind", s.ref.kind},
                              {"name", s.ref.name},
                              {"namespace", s.ref.namespace_},
                              {"exists", s.existed}};
      if (WorkloadKindOf(s.ref)) {
        entry["revision"] = s.revision ? nlohmann::json(*s.revision) : nlohmann::json(nullptr);
        if (!s.revision_object.empty()) entry["revision_object"] = s.revision_object;
        // The images it runs now and will run: what changed, at a glance, in the audit log.
        if (s.existed) entry["images_before"] = s.images;
        for (const auto& [ref, images] : images_after)
          if (ref == s.ref) entry["images_after"] = images;
      }
      entry["rollback"] = RollbackPlanOf(s);
      std::string where = s.ref.namespace_.empty() ? "" : " (namespace " + s.ref.namespace_ + ")";
      context.OutputLine("", false, s.ref.Display() + where + ": " + RollbackLineOf(s), false);
      revisions.push_back(std::move(entry));
    }
    result.undo_state = UndoStateToJson(*states);
    Status written =
        context.Record(EventKind::kKubectlRevisions,
                       {{"context", kubectl.endpoint().context}, {"objects", revisions}});
    if (!written.ok()) {
      result.error = "cannot record the current revisions: " + written.message();
      return;
    }
    result.detail["revisions"] = revisions;

    // 3. Apply.
    ProcessResult applied = kubectl.Stream({"apply", rendered.apply_flag(), rendered.apply_path()});
    result.exit_status = applied.exit_status;
    if (!applied.ok()) {
      Fail(result, kubectl, applied, "kubectl apply");
      return;
    }

    // 4. Wait for every workload's rollout.
    if (action.wait.count() > 0) {
      Deadline wait = Deadline::After(action.wait);
      for (const auto& s : *states) {
        if (!WorkloadKindOf(s.ref)) continue;
        ProcessResult status;
        std::string why =
            WaitForRollout(kubectl, s.ref, wait.Remaining(Duration{0}), context, &status);
        if (!why.empty()) {
          Fail(result, kubectl, status, "rollout status");
          if (result.outcome == Outcome::kFailed)
            result.error = "rollout of " + s.ref.Display() + " did not finish: " + why;
          return;
        }
      }
    }
    result.outcome = Outcome::kSucceeded;
    result.exit_status = 0;
  }

  /// What `rollback: auto` will do to `s`: "undo" (to its revision), "restore" (put back as
  /// recorded), "delete" (created by the apply), or "none" (and why, in RollbackLineOf).
  static std::string RollbackPlanOf(const PriorState& s) {
    if (!NeedsUndo(s)) return "none";
    if (!s.existed) return "delete";
    if (IsRestore(s)) return s.unrestorable.empty() ? "restore" : "none";
    return "undo";
  }

  static std::string RollbackLineOf(const PriorState& s) {
    const std::string plan = RollbackPlanOf(s);
    if (plan == "delete") return "new; a rollback deletes it";
    if (plan == "undo") return "at revision " + std::to_string(*s.revision) + "; a rollback returns to it";
    if (plan == "restore")
      return std::string("recorded") + (s.restore_file.empty() ? "" : " outside the audit log") +
             "; a rollback puts it back as it is now";
    if (!s.unrestorable.empty()) return "WARNING: a rollback cannot put it back: " + s.unrestorable;
    if (!s.existed) return "new; a rollback leaves it (a Namespace may hold other objects)";
    return "no revision observed yet; a rollback leaves it";
  }

  /// Objects whose earlier form must not enter the audit log (a Secret, or anything that
  /// holds a value of the run's secrets) are written to a private file of this run under
  /// restore_dir_, durable before the apply; the undo state names the file and its digest.
  void KeepPriorsOutOfTheLog(const StepRequest& request, StepContext& context,
                             std::vector<PriorState>* states) const {
    int n = 0;
    for (PriorState& s : *states) {
      if (!IsRestore(s)) continue;
      ++n;
      const std::string text = s.prior.dump();
      const bool secret = (s.ref.kind == "Secret" && s.ref.Group().empty()) ||
                          context.Redact(text) != text;
      if (!secret) continue;
      if (restore_dir_.empty()) {
        s.unrestorable = "its earlier form holds secrets and there is no folder to keep it in";
        continue;
      }
      const std::string dir = RunRestoreDir(restore_dir_, context.run_id());
      const std::string file = dir + "/" + request.step->id + "-" +
                               std::to_string(request.attempt) + "-" + std::to_string(n) + ".json";
      Status kept = WriteDurablePrivate(dir, file, text);
      if (!kept.ok()) {
        s.unrestorable = "cannot keep its earlier form: " + kept.message();
        continue;
      }
      s.restore_file = file;
      s.restore_sha256 = Sha256Hex(text);
    }
  }

  /// Ends an early dry run that cannot be done before the steps run.
  static void SkipEarly(StepContext& context, StepResult& result, const std::string& why) {
    context.OutputLine("", false, "dry run deferred to the step: " + why, false);
    result.detail["dry_run"] = true;
    result.detail["deferred"] = why;
    result.outcome = Outcome::kSucceeded;
    result.exit_status = 0;
  }

  /// Why an early dry run that failed with `stderr` may pass once the earlier steps ran: it
  /// names a missing namespace or an unknown kind, and an earlier apply step of the runbook
  /// creates a Namespace or a CustomResourceDefinition. "" when not.
  static std::string NeedsEarlierStep(const StepSpec& step, const StepContext& context,
                                      const std::string& stderr_text) {
    const bool missing_namespace = stderr_text.find("namespaces \"") != std::string::npos &&
                                   stderr_text.find("not found") != std::string::npos;
    const bool unknown_kind = stderr_text.find("no matches for kind") != std::string::npos ||
                              stderr_text.find("ensure CRDs are installed") != std::string::npos;
    if (!missing_namespace && !unknown_kind) return "";
    for (const StepSpec& earlier : context.runbook().steps) {
      if (&earlier == &step || earlier.id == step.id) break;
      const auto* kube = std::get_if<KubectlAction>(&earlier.action);
      if (kube == nullptr || kube->apply.empty()) continue;
      auto set = ReadManifests(
          kube->apply, context.runbook().dir,
          [](const TemplateRef&) -> std::optional<std::string> { return std::nullopt; });
      if (!set.ok()) continue;
      for (const ManifestFile& file : set->files) {
        const bool creates = missing_namespace ? DeclaresKind(file.text, "Namespace")
                                               : DeclaresKind(file.text, "CustomResourceDefinition");
        if (creates) {
          return std::string(missing_namespace ? "its namespace" : "its kind") +
                 " may be created by the earlier step " + earlier.id;
        }
      }
    }
    return "";
  }

  /// Whether a manifest's text declares an object of `kind` (a `kind: KIND` line).
  static bool DeclaresKind(const std::string& text, const std::string& kind) {
    size_t at = 0;
    while ((at = text.find("kind:", at)) != std::string::npos) {
      size_t v = at + 5;
      while (v < text.size() && (text[v] == ' ' || text[v] == '"' || text[v] == '\'')) ++v;
      if (text.compare(v, kind.size(), kind) == 0) {
        const size_t end = v + kind.size();
        if (end == text.size() || !std::isalnum(static_cast<unsigned char>(text[end]))) return true;
      }
      at = v;
    }
    return false;
  }

  /// The REST path of `ref` (its collection when `collection`), from the API server's
  /// discovery document of its group-version: "/apis/networking.k8s.io/v1/namespaces/shop/
  /// ingresses/web".
  static Result<std::string> RestPath(Kubectl& kubectl, const KubeObjectRef& ref, bool collection) {
    const std::string gv = (ref.Group().empty() ? "/api/" : "/apis/") + ref.api_version;
    ProcessResult p = kubectl.Capture({"get", "--raw", gv});
    if (!p.ok()) return Result<std::string>::Error(kubectl.Describe(p, "discovery of " + gv));
    const nlohmann::json doc = nlohmann::json::parse(p.stdout_tail, nullptr, false);
    if (doc.is_object() && doc.contains("resources") && doc["resources"].is_array()) {
      for (const auto& r : doc["resources"]) {
        const std::string name = StringAt(r, "name");
        if (StringAt(r, "kind") != ref.kind || name.find('/') != std::string::npos) continue;
        std::string path = gv;
        if (r.value("namespaced", false)) path += "/namespaces/" + ref.namespace_;
        path += "/" + name;
        if (!collection) path += "/" + ref.name;
        return path;
      }
    }
    return Result<std::string>::Error("the API server does not list " + ref.kind + " in " + gv);
  }

  /// Puts `s` back as recorded: nothing when it is unchanged; a PUT of the recorded form (at
  /// the live resourceVersion, so that a concurrent change is not overwritten unseen) when it
  /// differs; a POST when it is gone. Raw requests (`kubectl replace --raw`), because a plain
  /// `kubectl replace` would rewrite kubectl's last-applied-configuration annotation to the
  /// whole object, and the next `kubectl apply` would then prune fields it never set. ""
  /// on success, else why not.
  static std::string Restore(const PriorState& s, Kubectl& kubectl, StepContext& context,
                             nlohmann::json* entry, ProcessResult* last) {
    if (!s.unrestorable.empty()) return s.unrestorable;
    nlohmann::json prior = s.prior;
    if (prior.is_null()) {
      Result<std::string> text = ReadKeptFile(s.restore_file, s.restore_sha256);
      if (!text.ok()) return text.message();
      prior = nlohmann::json::parse(*text, nullptr, false);
      if (!prior.is_object()) return "the kept file " + s.restore_file + " is not an object";
    }
    Result<nlohmann::json> live =
        kubectl.GetJson({s.ref.ResourceArg(), s.ref.name, "--ignore-not-found"}, s.ref.namespace_);
    if (!live.ok()) return live.message();
    if (!live->is_null() && ServerOwnedFieldsRemoved(*live) == prior) {
      (*entry)["unchanged"] = true;
      context.OutputLine("", false, s.ref.Display() + ": unchanged", false);
      return "";
    }
    const bool gone = live->is_null();
    if (!gone) {
      const std::string version = StringAt(*live, "metadata.resourceVersion");
      if (!version.empty()) prior["metadata"]["resourceVersion"] = version;
    }
    Result<std::string> path = RestPath(kubectl, s.ref, gone);
    if (!path.ok()) return path.message();
    ManifestSet one{"", false, false, {{"", "object.json", prior.dump()}}};
    auto file = RenderedManifests::Write(one, [](std::string_view t) { return std::string(t); });
    if (!file.ok()) return file.message();
    *last = kubectl.Capture({gone ? "create" : "replace", "--raw", *path, "-f", (*file)->apply_path()});
    if (!last->ok()) return kubectl.Describe(*last, gone ? "create" : "replace");
    context.OutputLine("", false, s.ref.Display() + (gone ? ": created again" : ": put back"), false);
    (*entry)[gone ? "recreated" : "replaced"] = true;
    return "";
  }

  // ------------------------------------------------------------------ args

  void Args(const StepRequest& request, const KubectlAction& action, StepContext& context,
            Kubectl& kubectl, StepResult& result) {
    if (action.args.empty()) {
      result.error = "the kubectl step has neither `apply` nor `args`";
      return;
    }
    std::vector<std::string> args, shown;
    for (const auto& a : action.args) {
      args.push_back(context.Render(a, Quoting::kNone));
      shown.push_back(context.RenderForDisplay(a, Quoting::kNone));
    }
    if (request.dry_run) {
      result.detail["dry_run"] = true;
      switch (DryRunModeOf(args)) {
        case DryRunMode::kServerDryRun:
          args.push_back("--dry-run=server");
          shown.push_back("--dry-run=server");
          break;
        case DryRunMode::kReadOnly:
          break;
        case DryRunMode::kSkip:
          context.OutputLine(
              "", false,
              "would run: " + kubectl.Display(shown) + " (no server-side dry run exists for it)", false);
          result.detail["command"] = kubectl.Display(shown);
          result.detail["skipped"] = true;
          result.outcome = Outcome::kSucceeded;
          return;
      }
    }
    result.detail["command"] = kubectl.Display(shown);
    ProcessResult p = kubectl.Stream(args);
    result.exit_status = p.exit_status;
    result.detail["exit_status"] = p.exit_status;
    if (!p.ok()) {
      Fail(result, kubectl, p, "kubectl " + (shown.empty() ? std::string() : shown[0]));
      return;
    }
    result.outcome = Outcome::kSucceeded;
  }

  // ------------------------------------------------------------------ rollback: auto

  void Undo(const StepRequest& request, const KubectlAction& action, StepContext& context,
            Kubectl& kubectl, StepResult& result) {
    if (action.apply.empty()) {
      result.error =
          "`rollback: auto` needs an `apply` step; give this kubectl step an "
          "explicit rollback action";
      return;
    }
    if (request.undoing_result == nullptr) {
      result.error = "internal error: an automatic rollback without the forward step's result";
      return;
    }
    auto states = UndoStateFromJson(request.undoing_result->undo_state);
    if (!states.ok()) {
      result.error = states.message();
      return;
    }
    if (states->empty()) {
      context.OutputLine("", false, "nothing to undo: the apply recorded no changes", false);
      result.detail["undone"] = nlohmann::json::array();
      result.outcome = Outcome::kSucceeded;
      return;
    }
    if (request.dry_run) {
      for (const auto& s : *states) {
        context.OutputLine("", false,
                           IsRestore(s) ? "would put back " + s.ref.Display() + " as recorded"
                           : s.existed  ? "would undo " + s.ref.Display() + " to revision " +
                                             std::to_string(*s.revision)
                                        : "would delete " + s.ref.Display(),
                           false);
      }
      result.detail["dry_run"] = true;
      result.outcome = Outcome::kSucceeded;
      return;
    }

    Duration wait_budget = action.wait.count() > 0 ? action.wait : kDefaultUndoWait;
    nlohmann::json done = nlohmann::json::array();
    std::vector<std::string> failures;
    std::vector<const PriorState*> rolled_back;
    ProcessResult last;
    for (auto it = states->rbegin(); it != states->rend(); ++it) {
      const PriorState& s = *it;
      if (context.cancelled()) break;
      nlohmann::json entry = {{"object", s.ref.Display()}, {"namespace", s.ref.namespace_}};
      if (IsRestore(s)) {
        entry["action"] = "restore";
        std::string why = Restore(s, kubectl, context, &entry, &last);
        entry["ok"] = why.empty();
        if (!why.empty()) failures.push_back("cannot put back " + s.ref.Display() + ": " + why);
      } else if (!s.existed) {
        entry["action"] = "delete";
        last = kubectl.Stream({"delete", s.ref.ResourceArg(), s.ref.name, "--ignore-not-found",
                               "--wait=true", "--timeout=" + GoDuration(wait_budget)},
                              wait_budget + kStatusSlack, s.ref.namespace_);
        entry["ok"] = last.ok();
        if (!last.ok()) failures.push_back(kubectl.Describe(last, "delete " + s.ref.Display()));
      } else {
        entry["action"] = "undo";
        entry["recorded_revision"] = *s.revision;
        Result<int64_t> to = CurrentRevisionOf(s, Getter(kubectl));
        if (!to.ok()) {
          entry["ok"] = false;
          failures.push_back(s.ref.Display() + ": " + to.message());
        } else {
          entry["to_revision"] = *to;
          last = kubectl.Stream({"rollout", "undo", s.ref.ResourceArg() + "/" + s.ref.name,
                                 "--to-revision=" + std::to_string(*to)},
                                Duration{0}, s.ref.namespace_);
          entry["ok"] = last.ok();
          if (last.ok()) {
            rolled_back.push_back(&s);
          } else {
            failures.push_back(kubectl.Describe(last, "rollout undo of " + s.ref.Display()));
          }
        }
      }
      Status recorded = context.Record(EventKind::kKubectlUndo, entry);
      if (!recorded.ok()) failures.push_back("cannot record the undo: " + recorded.message());
      done.push_back(std::move(entry));
    }
    result.detail["undone"] = done;

    Deadline wait = Deadline::After(wait_budget);
    for (const PriorState* s : rolled_back) {
      if (context.cancelled()) break;
      ProcessResult status;
      std::string why =
          WaitForRollout(kubectl, s->ref, wait.Remaining(Duration{0}), context, &status);
      if (!why.empty()) failures.push_back("rollout back of " + s->ref.Display() + ": " + why);
    }
    if (context.cancelled()) {
      result.outcome = Outcome::kCancelled;
      result.error = "interrupted";
      return;
    }
    if (!failures.empty()) {
      result.outcome = kubectl.deadline_hit() ? Outcome::kTimedOut : Outcome::kFailed;
      result.error = failures.front();
      for (size_t i = 1; i < failures.size(); ++i) result.error += "; " + failures[i];
      result.exit_status = last.exit_status;
      return;
    }
    result.outcome = Outcome::kSucceeded;
    result.exit_status = 0;
  }

  std::string restore_dir_;
};

}  // namespace

std::unique_ptr<StepRunner> MakeKubectlRunner(std::string restore_dir) {
  return std::make_unique<KubectlRunner>(std::move(restore_dir));
}

}  // namespace runbook
