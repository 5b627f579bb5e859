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

#include "engine/status.h"

namespace runbook {

class StepContext;

/// One manifest file of an `apply` path, rendered.
struct ManifestFile {
  std::string source;  // absolute
  std::string text;    // rendered
};

/// The manifests an `apply` path names, in the order kubectl reads them.
struct ManifestSet {
  std::string source_dir;  // the folder, or the folder of the file
  bool folder = false;     // the path names a folder
  std::vector<ManifestFile> files;
};

/// Renders a manifest's text: the runner with the run's values, a plan with the params only
/// (engine/template.h RenderKnownParams), so that both read the same files the same way.
using ManifestRenderer = std::function<std::string(std::string_view text)>;

/// Reads the manifests at `path` (absolute, or relative to `runbook_dir`): a file, or every
/// *.yaml, *.yml and *.json file directly in a folder (as `kubectl apply -f DIR` reads it), in
/// name order, each rendered with `render`. Fails on a missing path, an unreadable file or a
/// folder without manifests; the message names the path.
Result<ManifestSet> ReadManifests(const std::string& path, const std::string& runbook_dir,
                                  const ManifestRenderer& render);

class RenderedManifests {
 public:
  ~RenderedManifests();
  RenderedManifests(const RenderedManifests&) = delete;
  RenderedManifests& operator=(const RenderedManifests&) = delete;

  /// Renders the manifests at `path` (ReadManifests, relative to the runbook's folder) with
  /// the run's values into the temporary folder.
  static Result<std::unique_ptr<RenderedManifests>> Render(const std::string& path,
                                                           const StepContext& context);

  /// What to pass to `kubectl apply -f`: the rendered file, or the rendered folder.
  const std::string& apply_path() const { return apply_path_; }
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
  std::vector<std::string> sources_;
  nlohmann::json digests_ = nlohmann::json::array();
};

}  // namespace runbook
