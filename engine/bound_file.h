// The files a plan binds besides the runbook and its params (SPEC §5, "What was approved is
// what runs"): each by its path relative to the runbook's folder, how the run uses it and the
// sha256 of its content. app/bound_files.h collects them; the plan hash (engine/plan.h)
// covers them, the plan document and `run_started` list them.
//
// Format, in the plan document (`files`) and in run_started's detail (`files`):
//   [{"path": "manifests/web.yaml", "use": "manifest", "sha256": "9f86d0..."},
//    {"path": "scripts/deploy.sh", "use": "command", "sha256": "2c26b4..."}]
// sorted by path, then use. `use` is "manifest" (a kubectl manifest, hashed as rendered with
// the params), "input" (listed under `inputs:`) or "command" (named by a word of a shell
// command).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace runbook {

struct BoundFile {
  std::string path;    // relative to the runbook's folder ("scripts/deploy.sh", "../lib/x")
  std::string use;     // manifest | input | command
  std::string sha256;  // 64 lower-case hex digits
  bool operator==(const BoundFile&) const = default;
};

/// The order of the lists above: by path, then use.
bool operator<(const BoundFile& a, const BoundFile& b);

/// What collecting the bound files of a runbook found.
struct BoundInputs {
  std::vector<BoundFile> files;  // sorted, no duplicates
  /// What the run uses that cannot be bound when the plan is made (a manifest folder named
  /// by a step's output, one that does not exist yet): warnings for the reviewer.
  std::vector<std::string> unbound;
  /// What makes a plan impossible: an `inputs:` entry that matches no file, a file that
  /// cannot be read.
  std::vector<std::string> errors;
};

void to_json(nlohmann::json& j, const BoundFile& f);
/// Never throws: missing or mistyped keys give "".
void from_json(const nlohmann::json& j, BoundFile& f);

/// The files of a `files` list as stored (a plan document's, a run_started detail's); entries
/// that are not objects are left out.
std::vector<BoundFile> BoundFilesFromJson(const nlohmann::json& list);

}  // namespace runbook
