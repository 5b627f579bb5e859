// What a plan binds besides the runbook and its params (SPEC §5, "What was approved is what
// runs"; docs/approval.md): the files a run will use, read when the plan is made and again
// when `run --plan` starts, and the words that say which of them changed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "audit/plan_store.h"
#include "engine/bound_file.h"
#include "engine/model.h"

namespace runbook {

/// Every file a run of `runbook` with `params` will use, as it is now:
///  - "manifest": the manifests of each kubectl `apply` (every manifest of a folder, as the
///    runner reads it), rendered with the params; a `secret: true` param and every placeholder
///    known only during the run (secrets, step results, env, run id) stay as written, so that
///    no listed digest is one of a secret;
///  - "input": the files `inputs:` names (paths or globs relative to the runbook's folder; a
///    folder stands for every file in it); an entry that matches no file is an error;
///  - "command": each word of a `shell` command (prechecks, steps and their rollbacks, verify,
///    global rollback) that names an existing regular file relative to the step's working
///    directory. Absolute words (/bin/sh) are not bound.
/// A file that a `secrets:` entry reads is never listed. What cannot be known yet (a
/// manifest path that does not exist or depends on a step's output, a working directory
/// known only during the run) is noted in `unbound`; a file that cannot be read is an error.
BoundInputs CollectBoundFiles(const Runbook& runbook,
                              const std::map<std::string, std::string>& params);

/// What `runbook validate` says of `inputs:`: an error for each entry that matches no file.
std::vector<std::string> InputErrors(const Runbook& runbook);

/// The files `plan` bound, as its stored document lists them (none for a plan made before
/// files were bound).
std::vector<BoundFile> PlannedFiles(const PlanRecord& plan);

/// One line per file that differs between `planned` and `now`, in path order:
/// "scripts/deploy.sh changed (sha256 2c26b46b68ff… → fcde2b2edba5…)",
/// "config/new.conf appeared (sha256 …)", "config/db.conf is gone (was sha256 …)".
/// Empty when they are the same.
std::vector<std::string> BoundFileChanges(const std::vector<BoundFile>& planned,
                                          const std::vector<BoundFile>& now);

/// The refusal of `run --plan` for `changes` (BoundFileChanges, not empty), naming each file
/// and what to do next.
std::string ChangedFilesRefusal(const PlanRecord& plan, const std::string& runbook_file,
                                const std::vector<std::string>& changes);

}  // namespace runbook
