// What an apply found before it changed anything, and how `rollback: auto` uses it.
//
// Before applying, the runner reads every object the apply touches. For each workload that
// exists it records the revision it runs now and the name of the object holding that revision
// (a Deployment's ReplicaSet, a StatefulSet's or DaemonSet's ControllerRevision); an object
// that does not exist yet is recorded as created. This list is the step's undo state, kept in
// the audit log:
//
//   [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop",
//     "revision": 3, "revision_object": "web-5d8f7c9b4"},
//    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker", "namespace": "shop",
//     "revision": null}]                                   <- created by the apply
//
// Why the holder's name: revision numbers move. Rolling back to revision 1 makes its
// ReplicaSet revision 4, and a template changed back to an earlier one takes over that
// ReplicaSet under a new number. The holder keeps its name, so at rollback time its current
// number is what `kubectl rollout undo --to-revision` gets; two applies of one workload in
// one run then undo correctly in reverse order.
//
// Objects without revisions (a Service, a ConfigMap, an Ingress...) that existed are recorded
// whole, as `kubectl get -o json` returned them less what the server owns (uid,
// resourceVersion, managedFields, status...), and put back by `kubectl replace` when they
// differ at rollback time:
//
//   {"apiVersion": "v1", "kind": "Service", "name": "web", "namespace": "shop",
//    "existed": true, "restore": {...the Service as it was...}}
//
// A Secret's earlier form must not enter the audit log: it is kept in a file of its own
// (0600, in a 0700 folder beside the audit database, removed when the run is over) and the
// entry names that file and its sha256 instead of "restore":
//
//   {..., "kind": "Secret", "existed": true,
//    "restore_file": "/home/op/.local/state/runbook/audit.db.restore/RUN/web-1.json",
//    "restore_sha256": "9f86d0..."}
//
// Objects that the apply created are deleted (except Namespaces, which could hold other
// people's objects).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "steps/kubectl_objects.h"

namespace runbook {

/// One object as it was before an apply.
struct PriorState {
  KubeObjectRef ref;
  bool existed = false;
  std::optional<int64_t> revision;  // workloads that existed
  std::string revision_object;      // the ReplicaSet/ControllerRevision holding `revision`
  std::map<std::string, std::string> images;  // workloads that existed: PodTemplateImages
  /// Objects without revisions that existed: the object as it was (ServerOwnedFieldsRemoved).
  /// Null when not recorded. A Secret's is held here but never written to the undo state.
  nlohmann::json prior;
  std::string restore_file;    // Secrets: where `prior` is kept outside the audit log
  std::string restore_sha256;  // of that file's content
  /// Why an existing object cannot be put back (a Secret with nowhere to keep it), or "".
  std::string unrestorable;
};

/// `object` without what the API server owns and sets: uid, resourceVersion, generation,
/// creationTimestamp, managedFields, selfLink, deletion fields and status. What `replace`
/// puts back, and what two states are compared by.
nlohmann::json ServerOwnedFieldsRemoved(const nlohmann::json& object);

/// Whether the rollback of `state` is a `replace` of its recorded form.
bool IsRestore(const PriorState& state);

/// Runs `kubectl get ARGS -o json` in namespace `ns` (empty: the step's), returning null JSON
/// when --ignore-not-found found nothing. The runner passes Kubectl::GetJson; tests a fake.
using KubeGetJson = std::function<Result<nlohmann::json>(const std::vector<std::string>& args,
                                                         const std::string& ns)>;

/// Reads the current state of `objects` (in order).
Result<std::vector<PriorState>> ReadPriorState(const std::vector<KubeObjectRef>& objects,
                                               const KubeGetJson& get);

/// The revision to undo `state` to, now: the current number of its revision object, or the
/// recorded number when that object is gone (pruned by revisionHistoryLimit).
Result<int64_t> CurrentRevisionOf(const PriorState& state, const KubeGetJson& get);

/// The entries a rollback acts on: workloads that existed (undo), other objects that existed
/// (restore), and created objects other than Namespaces (delete).
bool NeedsUndo(const PriorState& state);

/// The undo state (format above), and back. Entries that need no undo are left out.
nlohmann::json UndoStateToJson(const std::vector<PriorState>& states);
Result<std::vector<PriorState>> UndoStateFromJson(const nlohmann::json& doc);

}  // namespace runbook
