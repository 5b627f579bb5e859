#include "app/postmortem_sections.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "audit/audit_format.h"
#include "audit/audit_time.h"
#include "engine/events.h"

namespace runbook {

namespace {

// {"web": "app:1.2"} as ["web: app:1.2"]; `none` when there are none.
nlohmann::json ImageLines(const nlohmann::json& images, const std::string& none) {
  nlohmann::json lines = nlohmann::json::array();
  if (images.is_object())
    for (const auto& [container, image] : images.items())
      lines.push_back(container + ": " +
                      (image.is_string() ? image.get<std::string>() : image.dump()));
  if (lines.empty() && !none.empty()) lines.push_back(none);
  return lines;
}

}  // namespace

std::string DetailText(const nlohmann::json& detail, const char* key) {
  if (!detail.is_object()) return "";
  auto it = detail.find(key);
  if (it == detail.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>()
                         : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AddKubectlObjects(const std::vector<StoredEvent>& events, nlohmann::json* context) {
  // The fate of each step's rollback: the step a rollback action undoes -> succeeded?
  std::map<std::string, std::string> undone_by;     // rollback action -> the step it undoes
  std::map<std::string, bool> rollback_ok;          // undone step -> its rollback succeeded
  std::map<std::string, nlohmann::json> undo_of;    // "step\nobject" -> kubectl_undo detail
  std::map<std::string, nlohmann::json> manifests;  // step -> rendered_manifests
  for (const StoredEvent& e : events) {
    if (e.is(EventKind::kRollbackStarted)) undone_by[e.step] = DetailText(e.detail, "undoes");
    if (e.is(EventKind::kRollbackSucceeded) || e.is(EventKind::kRollbackFailed)) {
      const std::string undoes = undone_by[e.step];
      if (!undoes.empty()) rollback_ok[undoes] = e.is(EventKind::kRollbackSucceeded);
    }
    if (e.is(EventKind::kKubectlUndo))
      undo_of[undone_by[e.step] + "\n" + DetailText(e.detail, "object")] = e.detail;
    if (e.is(EventKind::kAttemptFinished) && e.phase != "rollback" && e.detail.is_object() &&
        e.detail.contains("rendered_manifests"))
      manifests[e.step] = e.detail["rendered_manifests"];
  }

  nlohmann::json steps = nlohmann::json::array();
  for (const StoredEvent& e : events) {
    if (!e.is(EventKind::kKubectlRevisions) || e.phase == "rollback") continue;
    const auto objects = e.detail.is_object() ? e.detail.find("objects") : e.detail.end();
    if (!e.detail.is_object() || objects == e.detail.end() || !objects->is_array()) continue;
    // A later attempt of the same step replaces the earlier one's record.
    if (!steps.empty() && steps.back()["step"] == e.step) steps.erase(steps.size() - 1);
    const auto fate = rollback_ok.find(e.step);
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& o : *objects) {
      const bool existed = o.value("exists", false);
      const std::string object = DetailText(o, "object");
      nlohmann::json before = existed ? ImageLines(o.value("images_before", nlohmann::json()), "")
                                      : nlohmann::json::array({"did not exist"});
      nlohmann::json after = ImageLines(o.value("images_after", nlohmann::json()), "");
      std::string rollback = "not rolled back";
      nlohmann::json now = after;
      std::string row_class;
      if (fate != rollback_ok.end()) {
        const auto undo = undo_of.find(e.step + "\n" + object);
        const bool ok = undo != undo_of.end() ? undo->second.value("ok", false) : fate->second;
        const std::string action = undo != undo_of.end() ? DetailText(undo->second, "action") : "";
        rollback = std::string(ok ? "rolled back" : "rollback FAILED") +
                   (action.empty() ? "" : " (" + action + ")");
        if (undo != undo_of.end() && undo->second.contains("to_revision"))
          rollback += " to revision " + DetailText(undo->second, "to_revision");
        now = ok ? (existed ? before : nlohmann::json::array({"deleted"}))
                 : nlohmann::json::array({"unknown: check the cluster"});
        row_class = ok ? "undo" : "bad";
      }
      std::string revision = DetailText(o, "revision");
      rows.push_back({{"object", object},
                      {"namespace", DetailText(o, "namespace")},
                      {"revision", revision},
                      {"images_before", before},
                      {"images_after", after},
                      {"images_now", now},
                      {"rollback_plan", DetailText(o, "rollback")},
                      {"rollback", rollback},
                      {"row_class", row_class}});
    }
    nlohmann::json files = nlohmann::json::array();
    if (auto m = manifests.find(e.step); m != manifests.end() && m->second.is_array())
      for (const auto& f : m->second)
        files.push_back({{"path", DetailText(f, "path")}, {"sha256", DetailText(f, "sha256")}});
    steps.push_back({{"step", e.step},
                     {"context", DetailText(e.detail, "context")},
                     {"objects", rows},
                     {"manifests", files},
                     {"has_manifests", !files.empty()}});
  }
  (*context)["kubectl_steps"] = steps;
  (*context)["has_kubectl_steps"] = !steps.empty();
}

void AddTimeToRestore(const StoredRun& run, const std::vector<StoredEvent>& events,
                      nlohmann::json* context) {
  nlohmann::json& c = *context;
  std::optional<long long> failure, rollback_start, rollback_end, finished;
  std::string what;
  bool rollback_failed = false;
  for (const StoredEvent& e : events) {
    const std::optional<long long> at = EventOffsetMs(run, e);
    const bool forward = e.phase == "step" || e.phase == "verify";
    if (!failure && forward && (e.is(EventKind::kStepFailed) || e.is(EventKind::kHostFailed))) {
      failure = at;
      what = e.phase + " " + e.step +
             (e.is(EventKind::kHostFailed) ? " on " + DetailText(e.detail, "host") : "") + ": " +
             DetailText(e.detail, "error");
    }
    if (e.is(EventKind::kRollbackStarted) && !rollback_start) rollback_start = at;
    if (e.is(EventKind::kRollbackSucceeded) || e.is(EventKind::kRollbackFailed)) {
      rollback_end = at;
      rollback_failed = rollback_failed || e.is(EventKind::kRollbackFailed);
    }
    if (e.is(EventKind::kRunFinished)) finished = at;
  }
  const std::string& state = c.value("state", std::string());
  const bool rolled_back = state == "rolled_back" || state == "rollback_failed";
  if (!rolled_back && !rollback_start) {
    c["restore"] = nullptr;
    c["has_restore"] = false;
    return;
  }
  // A run rolled back without a failed step (interrupted, a lost audit log): from the start
  // of its rollback.
  if (!failure) {
    failure = rollback_start;
    what = "no step failed: the run was stopped and rolled back";
  }
  // The rollback ends with its last action; a run rolled back with no action (none to run)
  // when it finished.
  const std::optional<long long> end = rollback_end ? rollback_end : finished;
  const long long target = c.value("rollback_target_ms", 5LL * 60 * 1000);
  nlohmann::json r = {
      {"first_failure_at", failure ? "+" + FormatDurationMs(*failure) : "?"},
      {"first_failure", what},
      {"rollback_started_at", rollback_start ? "+" + FormatDurationMs(*rollback_start) : "-"},
      {"rollback_finished_at", end ? "+" + FormatDurationMs(*end) : "not finished"},
      {"restored", rolled_back && !rollback_failed && state == "rolled_back"},
      {"target", c.value("rollback_target", std::string())}};
  if (failure && end) {
    const long long ttr = std::max(0LL, *end - *failure);
    r["time_to_restore"] = FormatDurationMs(ttr);
    r["time_to_restore_ms"] = ttr;
    const bool restored = r["restored"].get<bool>();
    r["within_target"] = restored && ttr <= target;
    r["over_target"] = restored && ttr > target;
    r["over_by"] = ttr > target ? FormatDurationMs(ttr - target) : "";
  } else {
    r["time_to_restore"] = "unknown: the rollback has not finished";
    r["within_target"] = false;
    r["over_target"] = false;
    r["over_by"] = "";
  }
  if (rollback_start && end)
    r["rollback_duration"] = FormatDurationMs(std::max(0LL, *end - *rollback_start));
  else
    r["rollback_duration"] = "-";
  r["not_restored"] = !r["restored"].get<bool>();
  c["restore"] = r;
  c["has_restore"] = true;
}

}  // namespace runbook
