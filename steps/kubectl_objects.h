// Kubernetes objects as the kubectl runner sees them: references read from kubectl's JSON
// output (`kubectl apply --dry-run=server -o json` prints what the server would store, which
// names every object an apply touches with its namespace resolved), and the few facts about
// them that a rollback needs. Pure functions over JSON; no process is started here.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"

namespace runbook {

/// One object of a cluster, by type and name.
struct KubeObjectRef {
  std::string api_version;  // "apps/v1", "v1"
  std::string kind;         // "Deployment"
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects

  /// The group of api_version: "apps", or "" for the core group.
  std::string Group() const;
  /// The resource argument kubectl resolves without ambiguity: "deployment.v1.apps",
  /// "configmap" (core kinds need no qualification).
  std::string ResourceArg() const;
  /// "deployment/web" (kubectl's own spelling, for messages).
  std::string Display() const;
};

bool operator==(const KubeObjectRef& a, const KubeObjectRef& b);

/// The kinds whose rollouts have revisions that `kubectl rollout undo` can go back to.
enum class WorkloadKind { kDeployment, kStatefulSet, kDaemonSet };

/// The workload kind of `ref` (apps group only), or nullopt for any other object.
std::optional<WorkloadKind> WorkloadKindOf(const KubeObjectRef& ref);

/// The objects in kubectl's `-o json` output: a single object, or a List of them (kubectl
/// prints a List when an apply touches several). Fails on text that is not such JSON.
Result<std::vector<KubeObjectRef>> ParseObjectRefs(std::string_view json_text);

/// A reference to `object` (its apiVersion, kind, metadata.name and metadata.namespace).
KubeObjectRef RefOf(const nlohmann::json& object);

/// The container images of a workload's pod template (`spec.template.spec`), by container
/// name, init containers as "init:NAME". Empty for an object without a pod template. Images
/// only: nothing else of the object (env values, Secret data) is read.
std::map<std::string, std::string> PodTemplateImages(const nlohmann::json& object);

/// Each Deployment, StatefulSet and DaemonSet in kubectl's `-o json` output (as for
/// ParseObjectRefs) with its pod template's images; empty for text that is not such JSON.
std::vector<std::pair<KubeObjectRef, std::map<std::string, std::string>>> WorkloadImages(
    std::string_view json_text);

/// A metav1.LabelSelector in the string form of `kubectl get -l`: "app=web,tier in (a,b)".
/// Empty when the selector selects nothing expressible.
std::string SelectorString(const nlohmann::json& selector);

/// The `deployment.kubernetes.io/revision` annotation of a Deployment or ReplicaSet.
std::optional<int64_t> RevisionAnnotation(const nlohmann::json& object);

/// A string field at a dotted path ("metadata.uid"), or "" when absent or not a string.
std::string StringAt(const nlohmann::json& object, std::string_view dotted_path);

}  // namespace runbook
