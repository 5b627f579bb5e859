// Placeholders inside kubectl manifests (SPEC §5, docs/templating.md).
//
// A manifest is a template like any field of the runbook: `image: web:{{ params.tag }}`. But
// manifests also carry other people's templates as data — a ConfigMap holding an Alertmanager
// or Prometheus template (`{{ $labels.instance }}`, `{{ .Values.x }}`, `{{ range .Alerts }}`)
// must reach the cluster exactly as written. So in a manifest a `{{ ... }}` is ours when its
// first word is one of our roots (params, secrets, steps, run, env, raw) or a near miss of one
// (`parms`, `secret`, `step`): then it must be a valid placeholder, and a bad one is an error
// located in the manifest. Anything else between braces is text and is left as written.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/status.h"
#include "engine/status.h"
#include "engine/template.h"

namespace runbook {

/// A manifest's text split into literal text (foreign `{{ }}` included) and our placeholders.
struct ManifestTemplate {
  Template tmpl;
  std::vector<TemplateError> errors;  // placeholders of ours that do not parse
};

ManifestTemplate ParseManifestTemplate(std::string_view text);

/// The value of one placeholder, or nullopt to leave it exactly as written.
using ManifestValue = std::function<std::optional<std::string>(const TemplateRef& ref)>;

/// Values known before a run starts: a param in `params` gives its value; every other
/// placeholder stays as written (what a plan binds and diffs, like RenderKnownParams).
/// `params` must outlive the result.
ManifestValue KnownParamValues(const std::map<std::string, std::string>& params);

/// Renders a manifest: each placeholder of ours becomes `value(ref)` inserted as is; foreign
/// braces and placeholders `value` declines stay as written.
std::string RenderManifestText(std::string_view text, const ManifestValue& value);

/// The line and column (both from 1, the column in bytes) of byte `offset` of `text`.
SourceLoc LocationOf(std::string_view text, size_t offset);

/// The manifest files an `apply` path names, as kubectl reads them.
struct ManifestFiles {
  std::string path;         // absolute, normalised
  bool folder = false;      // a folder: `kubectl apply -f DIR`, or `-k DIR` when kustomize
  bool kustomize = false;   // the folder holds kustomization.yaml (or .yml, or Kustomization)
  /// Absolute, sorted. A file: itself. A folder: its *.yaml, *.yml and *.json files (not
  /// those of subfolders, as `kubectl apply -f DIR` reads it). A kustomization: every such
  /// file under the folder, subfolders included, since kustomize may read any of them.
  std::vector<std::string> files;
};

/// Lists the manifests at `path` (absolute, or relative to `base_dir`). Fails, with a message
/// that names the path, on a URL, a missing path, an unreadable folder or a folder without
/// manifests.
Result<ManifestFiles> ListManifestFiles(const std::string& path, const std::string& base_dir);

/// Whether `path` is a URL (`https://...`), which `apply` refuses: a plan binds the content of
/// what it applies, and a URL's content can change after approval.
bool IsUrl(std::string_view path);

}  // namespace runbook
