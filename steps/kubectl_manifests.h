// The manifests of an `apply` step, rendered. `apply: PATH` names a file or a folder; its
// manifests are templates (`{{ params.version }}`), so each is rendered with real values into a
// private temporary folder (0700, files 0600: rendered manifests may hold secrets), which is
// what kubectl applies. The folder goes when the object does.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/manifest_template.h"
#include "engine/status.h"

namespace runbook {

class StepContext;

/// One manifest file of an `apply` path, rendered.
struct ManifestFile {
  std::string source;    // absolute
  std::string relative;  // to ManifestSet::source_dir: "web.yaml", "overlays/prod/patch.yaml"
  std::string text;      // rendered
};

/// The manifests an `apply` path names, in the order kubectl reads them.
struct ManifestSet {
  std::string source_dir;  // the folder, or the folder of the file
  bool folder = false;     // the path names a folder
  bool kustomize = false;  // a kustomization folder: `kubectl apply -k`
  std::vector<ManifestFile> files;
  bool uses_step_outputs = false;  // a placeholder names a step's stdout, stderr or output
};

/// Reads the manifests at `path` (absolute, or relative to `runbook_dir`; see
/// ListManifestFiles in engine/manifest_template.h for which files) and renders each with
/// RenderManifestText: `value` gives a placeholder's value (the runner: the run's values; a
/// plan: the params only), so that both read the same files the same way. Fails on a URL, a
/// missing path, an unreadable file or a folder without manifests; the message names the path.
Result<ManifestSet> ReadManifests(const std::string& path, const std::string& runbook_dir,
                                  const ManifestValue& value);

/// Writes `text` to `file` in `dir` (created 0700 with its missing parents), 0600, and makes
/// both durable (fsync) before returning: an object's earlier form kept outside the audit log
/// for a rollback (steps/kubectl_history.h). Fails if `file` exists.
Status WriteDurablePrivate(const std::string& dir, const std::string& file,
                           const std::string& text);

/// Reads a file written by WriteDurablePrivate and checks it against the recorded `sha256`.
Result<std::string> ReadKeptFile(const std::string& file, const std::string& sha256);

class RenderedManifests {
 public:
  ~RenderedManifests();
  RenderedManifests(const RenderedManifests&) = delete;
  RenderedManifests& operator=(const RenderedManifests&) = delete;

  /// Renders the manifests at `path` (ReadManifests, relative to the runbook's folder) with
  /// the run's values into the temporary folder.
  static Result<std::unique_ptr<RenderedManifests>> Render(const std::string& path,
                                                           const StepContext& context);
  /// Writes an already rendered set into the temporary folder, each file at its relative
  /// path. `redact` masks secrets for the digests (identity when the set holds none).
  static Result<std::unique_ptr<RenderedManifests>> Write(
      const ManifestSet& set, const std::function<std::string(std::string_view)>& redact);

  /// What to pass to kubectl: `{apply_flag(), apply_path()}`: `-f` and the rendered file or
  /// folder, or `-k` and the rendered kustomization folder.
  const std::string& apply_path() const { return apply_path_; }
  const char* apply_flag() const { return kustomize_ ? "-k" : "-f"; }
  /// Whether a placeholder in the manifests names a step's output (see ManifestSet).
  bool uses_step_outputs() const { return uses_step_outputs_; }
  /// The temporary folder and the source it stands for (for messages: paths in kubectl's
  /// output are shown as the operator wrote them).
  const std::string& temp_dir() const { return temp_dir_; }
  const std::string& source_dir() const { return source_dir_; }
  /// The source files, absolute, in the order kubectl reads them.
  const std::vector<std::string>& sources() const { return sources_; }
  /// For the audit log: per source file, {"path", "sha256"} of the rendered text with every
  /// secret value masked as `***` (and "secrets_masked": true when one was): the digest of
  /// exactly what was applied whenever no secret is in it, and never one of a secret.
  const nlohmann::json& digests() const { return digests_; }

 private:
  RenderedManifests() = default;

  std::string temp_dir_;
  std::string source_dir_;
  std::string apply_path_;
  bool kustomize_ = false;
  bool uses_step_outputs_ = false;
  std::vector<std::string> sources_;
  nlohmann::json digests_ = nlohmann::json::array();
};

}  // namespace runbook
