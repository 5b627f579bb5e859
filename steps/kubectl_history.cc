#include "steps/kubectl_history.h"

namespace runbook {
namespace {

bool OwnedBy(const nlohmann::json& object, const std::string& uid) {
  if (!object.is_object() || !object.contains("metadata")) return false;
  const auto& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains("ownerReferences")) return false;
  const auto& refs = meta["ownerReferences"];
  if (!refs.is_array()) return false;
  for (const auto& ref : refs) {
    if (StringAt(ref, "uid") == uid) return true;
  }
  return false;
}

std::optional<int64_t> ControllerRevisionNumber(const nlohmann::json& object) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find("revision");
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

const nlohmann::json& Items(const nlohmann::json& list) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!list.is_object()) return kEmpty;
  auto it = list.find("items");
  return it != list.end() && it->is_array() ? *it : kEmpty;
}

/// The workload's current revision and the object that holds it.
Status ReadRevision(WorkloadKind kind, const nlohmann::json& object, const std::string& ns,
                    const KubeGetJson& get, PriorState* state) {
  std::string uid = StringAt(object, "metadata.uid");
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& spec = object.contains("spec") ? object["spec"] : empty;
  std::string selector = SelectorString(spec.contains("selector") ? spec["selector"] : empty);
  std::vector<std::string> list_args;
  switch (kind) {
    case WorkloadKind::kDeployment: {
      state->revision = RevisionAnnotation(object);
      if (!state->revision) return Status::Ok();  // not yet observed by its controller
      list_args = {"replicaset.v1.apps"};
      break;
    }
    case WorkloadKind::kStatefulSet:
    case WorkloadKind::kDaemonSet:
      list_args = {"controllerrevision.v1.apps"};
      break;
  }
  if (!selector.empty()) list_args.insert(list_args.end(), {"-l", selector});
  Result<nlohmann::json> list = get(list_args, ns);
  if (!list.ok()) return list.status();
  std::string update_revision = StringAt(object, "status.updateRevision");
  for (const auto& item : Items(*list)) {
    if (!OwnedBy(item, uid)) continue;
    std::string name = StringAt(item, "metadata.name");
    switch (kind) {
      case WorkloadKind::kDeployment:
        if (RevisionAnnotation(item) == state->revision) state->revision_object = name;
        break;
      case WorkloadKind::kStatefulSet:
        if (name == update_revision) {
          state->revision = ControllerRevisionNumber(item);
          state->revision_object = name;
        }
        break;
      case WorkloadKind::kDaemonSet: {
        std::optional<int64_t> number = ControllerRevisionNumber(item);
        if (number && (!state->revision || *number > *state->revision)) {
          state->revision = number;
          state->revision_object = name;
        }
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<PriorState>> ReadPriorState(const std::vector<KubeObjectRef>& objects,
                                               const KubeGetJson& get) {
  std::vector<PriorState> states;
  for (const auto& ref : objects) {
    PriorState state;
    state.ref = ref;
    Result<nlohmann::json> object =
        get({ref.ResourceArg(), ref.name, "--ignore-not-found"}, ref.namespace_);
    if (!object.ok()) return object.status();
    state.existed = !object->is_null();
    if (std::optional<WorkloadKind> kind = WorkloadKindOf(ref); kind && state.existed) {
      state.images = PodTemplateImages(*object);
      Status read = ReadRevision(*kind, *object, ref.namespace_, get, &state);
      if (!read.ok()) return read;
    } else if (state.existed) {
      state.prior = ServerOwnedFieldsRemoved(*object);
    }
    states.push_back(std::move(state));
  }
  return states;
}

Result<int64_t> CurrentRevisionOf(const PriorState& state, const KubeGetJson& get) {
  if (!state.revision) {
    return Result<int64_t>::Error("no revision was recorded for " + state.ref.Display());
  }
  std::optional<WorkloadKind> kind = WorkloadKindOf(state.ref);
  if (state.revision_object.empty() || !kind) return *state.revision;
  bool deployment = *kind == WorkloadKind::kDeployment;
  Result<nlohmann::json> holder =
      get({deployment ? "replicaset.v1.apps" : "controllerrevision.v1.apps", state.revision_object,
           "--ignore-not-found"},
          state.ref.namespace_);
  if (!holder.ok()) return holder.status();
  if (holder->is_null()) return *state.revision;  // pruned: the recorded number is all we have
  std::optional<int64_t> now =
      deployment ? RevisionAnnotation(*holder) : ControllerRevisionNumber(*holder);
  return now ? *now : *state.revision;
}

nlohmann::json ServerOwnedFieldsRemoved(const nlohmann::json& object) {
  if (!object.is_object()) return object;
  nlohmann::json out = object;
  out.erase("status");
  auto meta = out.find("metadata");
  if (meta != out.end() && meta->is_object()) {
    for (const char* key : {"uid", "resourceVersion", "generation", "creationTimestamp",
                            "managedFields", "selfLink", "deletionTimestamp",
                            "deletionGracePeriodSeconds"})
      meta->erase(key);
  }
  return out;
}

bool IsRestore(const PriorState& state) {
  return state.existed && !WorkloadKindOf(state.ref).has_value();
}

bool NeedsUndo(const PriorState& state) {
  if (!state.existed) return state.ref.kind != "Namespace" || !state.ref.Group().empty();
  if (IsRestore(state)) return true;
  return state.revision.has_value();
}

nlohmann::json UndoStateToJson(const std::vector<PriorState>& states) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : states) {
    if (!NeedsUndo(s)) continue;
    nlohmann::json entry = {{"apiVersion", s.ref.api_version},
                            {"kind", s.ref.kind},
                            {"name", s.ref.name},
                            {"namespace", s.ref.namespace_},
                            {"revision", nullptr}};
    if (IsRestore(s)) {
      entry["existed"] = true;
      const bool secret = s.ref.kind == "Secret" && s.ref.Group().empty();
      if (!s.unrestorable.empty()) {
        entry["unrestorable"] = s.unrestorable;
      } else if (secret && s.restore_file.empty()) {
        // Never into the log: a Secret not kept elsewhere cannot be put back.
        entry["unrestorable"] = "its earlier form was not kept outside the audit log";
      } else if (!s.restore_file.empty()) {
        entry["restore_file"] = s.restore_file;
        entry["restore_sha256"] = s.restore_sha256;
      } else {
        entry["restore"] = s.prior;
      }
    } else if (s.existed) {
      entry["revision"] = *s.revision;
      if (!s.revision_object.empty()) entry["revision_object"] = s.revision_object;
    }
    list.push_back(std::move(entry));
  }
  return list;
}

Result<std::vector<PriorState>> UndoStateFromJson(const nlohmann::json& doc) {
  using R = Result<std::vector<PriorState>>;
  std::vector<PriorState> states;
  if (doc.is_null()) return states;
  if (!doc.is_array()) return R::Error("the recorded undo state is not a list");
  for (const auto& entry : doc) {
    if (!entry.is_object()) return R::Error("an entry of the recorded undo state is not a map");
    PriorState s;
    s.ref.api_version = StringAt(entry, "apiVersion");
    s.ref.kind = StringAt(entry, "kind");
    s.ref.name = StringAt(entry, "name");
    s.ref.namespace_ = StringAt(entry, "namespace");
    if (s.ref.kind.empty() || s.ref.name.empty() || s.ref.api_version.empty())
      return R::Error("an entry of the recorded undo state lacks apiVersion, kind or name");
    auto rev = entry.find("revision");
    if (rev != entry.end() && rev->is_number_integer()) {
      s.existed = true;
      s.revision = rev->get<int64_t>();
      s.revision_object = StringAt(entry, "revision_object");
    } else if (rev != entry.end() && !rev->is_null()) {
      return R::Error("the recorded revision of " + s.ref.Display() + " is not a number");
    } else if (entry.value("existed", false)) {
      s.existed = true;
      if (auto r = entry.find("restore"); r != entry.end() && r->is_object()) s.prior = *r;
      s.restore_file = StringAt(entry, "restore_file");
      s.restore_sha256 = StringAt(entry, "restore_sha256");
      s.unrestorable = StringAt(entry, "unrestorable");
      if (s.prior.is_null() && s.restore_file.empty() && s.unrestorable.empty())
        return R::Error("the recorded state of " + s.ref.Display() + " is missing");
    }
    states.push_back(std::move(s));
  }
  return states;
}

}  // namespace runbook
