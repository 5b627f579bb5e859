// Checks that reach across the runbook: step ids are unique, and every template refers only
// to declared params and secrets and to steps that have run before it. The step parser
// registers each step and template as it reads them; references to steps are checked at the
// end, once every id is known, so that "runs later" can be told apart from "no such step".
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/model.h"
#include "engine/template.h"
#include "engine/yaml_reader.h"

namespace runbook {

/// Where a step sits in the order of a run, which decides which steps its templates see.
struct StepPosition {
  enum class Group { kPrecheck, kStep, kStepRollback, kVerify, kGlobalRollback };
  Group group = Group::kStep;
  int index = 0;    // within its list; kStepRollback: the index of the step it undoes
  int action = -1;  // kStepRollback: the index in that step's rollback list
};

/// Whether a template of the step at `from` may read the results of the step at `to`:
/// prechecks see earlier prechecks; steps see prechecks and earlier steps; a step's rollback
/// actions see that step, earlier steps and the earlier actions of the same rollback; verify
/// and global rollback see every precheck and step and the earlier entries of their own list.
bool StepVisible(const StepPosition& from, const StepPosition& to);

/// Collects ids and template references while the parser reads, and checks them.
class Validator {
 public:
  /// `read_files`: also read the files the runbook names (CheckManifests).
  Validator(YamlReader* reader, std::string dir, bool read_files)
      : reader_(reader), dir_(std::move(dir)), read_files_(read_files) {}
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  YamlReader& reader() { return *reader_; }
  const std::string& dir() const { return dir_; }

  void DeclareParam(const std::string& name) { params_.insert(name); }
  void DeclareSecret(const std::string& name) { secrets_.insert(name); }
  bool HasSecret(const std::string& name) const { return secrets_.count(name) > 0; }

  /// Makes room for `count` more steps: a list of 100,000 steps registers without rehashing.
  void ExpectSteps(size_t count);

  /// Records a step id; a second use of one id is an error at `loc`.
  void RegisterStep(const std::string& id, const StepPosition& pos, SourceLoc loc,
                    const std::vector<OutputSpec>& outputs);

  /// Parses a template field and checks its references. `only_params` is for fields that are
  /// rendered before anything runs (the description). Errors are reported at `loc`.
  void CheckTemplate(const std::string& text, Quoting quoting, SourceLoc loc,
                     const StepPosition& from, bool only_params = false);

  /// Checks the manifests an `apply` path names (SPEC §5): the path exists and is not a URL,
  /// and every placeholder in them is valid, as for a field of the step at `from`. Errors are
  /// located in the manifest file; path errors at `loc`. A path with a placeholder is checked
  /// when the run renders it.
  void CheckManifests(const std::string& apply, SourceLoc loc, const StepPosition& from);

  /// Checks every recorded reference to a step; call once all steps are registered.
  void CheckStepReferences();

  /// `~` expanded and a relative path made absolute against the runbook folder. A path that
  /// starts with a placeholder is left as written (it is resolved when rendered).
  std::string ResolvePath(const std::string& path) const;

 private:
  /// A registered step. Flat (its id and outputs live in ids_ and output_names_): at 100,000
  /// steps, a hash map node and its allocations per step cost a third of the loader's time.
  struct StepEntry {
    uint32_t id_begin = 0;  // in ids_
    uint32_t id_size = 0;
    StepPosition pos;
    SourceLoc loc;
    uint32_t outputs_begin = 0;  // in output_names_
    uint32_t outputs_end = 0;
  };
  struct StepRef {
    TemplateRef ref;
    SourceLoc loc;
    StepPosition from;
    std::string file;  // where `loc` is, when not the runbook (a manifest)
  };

  /// Checks the references of a parsed template; `file` as in StepRef.
  void CheckRefs(const Template& tmpl, SourceLoc loc, const StepPosition& from, bool only_params,
                 const std::string& file);
  void ErrorAt(const std::string& file, SourceLoc loc, std::string message);
  std::string_view IdOf(const StepEntry& entry) const {
    return std::string_view(ids_).substr(entry.id_begin, entry.id_size);
  }
  /// The step registered as `id`, or nullptr.
  const StepEntry* FindStep(std::string_view id) const;
  /// The slot of `id` (whose hash is `hash`) in slots_: its own, or the free one where it
  /// would go.
  size_t SlotOf(std::string_view id, size_t hash) const;
  /// Sizes slots_ for `count` steps (at most half full) and fills it again.
  void Rehash(size_t count);

  YamlReader* reader_;
  std::string dir_;
  bool read_files_ = false;
  std::unordered_set<std::string> params_;
  std::unordered_set<std::string> secrets_;
  std::deque<StepEntry> steps_;  // in the order registered; a deque never copies it to grow
  std::string ids_;
  std::vector<std::string> output_names_;
  /// Open addressing by id: the high 32 bits of the id's hash (to skip most other ids
  /// without reading them) above its index in steps_ + 1; 0 when free.
  std::vector<uint64_t> slots_;
  std::vector<StepRef> step_refs_;
};

/// The home folder: $HOME, else the password database's.
std::string HomeDir();

}  // namespace runbook
