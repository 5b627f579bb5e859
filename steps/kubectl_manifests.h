// The manifests of an `apply` step, rendered. `apply: PATH` names a file or a folder; its
// manifests are templates (`{{ params.version }}`), so each is rendered with real values into a
// private temporary folder (0700, files 0600: rendered manifests may hold secrets), which is
// what kubectl applies. The folder goes when the object does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace runbook {

class StepContext;

class RenderedManifests {
 public:
  ~RenderedManifests();
  RenderedManifests(const RenderedManifests&) = delete;
  RenderedManifests& operator=(const RenderedManifests&) = delete;

  /// Renders the manifests at `path` (absolute, or relative to the runbook's folder): a file,
  /// or every *.yaml, *.yml and *.json file directly in a folder (as `kubectl apply -f DIR`
  /// reads it), in name order. Fails on a missing path, an unreadable file or a folder
  /// without manifests.
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

 private:
  RenderedManifests() = default;

  std::string temp_dir_;
  std::string source_dir_;
  std::string apply_path_;
  std::vector<std::string> sources_;
};

}  // namespace runbook
