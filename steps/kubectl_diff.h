// What a kubectl apply would change, for the reviewer of a plan (SPEC §5, "The change request
// is the runbook template"): `kubectl diff --server-side` of the rendered manifests against the
// live cluster. The cluster computes the merged objects (a server-side dry run); nothing is
// changed. kubectl masks the data of Secrets in its diff.
#pragma once

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/status.h"
#include "steps/kubectl_manifests.h"

namespace runbook {

struct ClusterDiff {
  bool changes = false;  // kubectl found a difference (exit 1)
  std::string text;      // the unified diff, "" without changes
};

/// Diffs `manifests` (already rendered) against the cluster of `target`. Fails when kubectl
/// cannot be found or run, or cannot reach the cluster within `timeout`; the message says why.
Result<ClusterDiff> DiffAgainstCluster(const KubeTarget& target,
                                       const ManifestSet& manifests,
                                       Duration timeout = Duration{30000});

}  // namespace runbook
