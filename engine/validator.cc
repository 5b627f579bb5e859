#include "engine/validator.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "engine/manifest_template.h"
#include "engine/placeholder.h"

namespace runbook {

bool StepVisible(const StepPosition& from, const StepPosition& to) {
  using G = StepPosition::Group;
  switch (from.group) {
    case G::kPrecheck:
      return to.group == G::kPrecheck && to.index < from.index;
    case G::kStep:
      return to.group == G::kPrecheck || (to.group == G::kStep && to.index < from.index);
    case G::kStepRollback:
      return to.group == G::kPrecheck || (to.group == G::kStep && to.index <= from.index) ||
             (to.group == G::kStepRollback && to.index == from.index && to.action < from.action);
    case G::kVerify:
      return to.group == G::kPrecheck || to.group == G::kStep ||
             (to.group == G::kVerify && to.index < from.index);
    case G::kGlobalRollback:
      return to.group == G::kPrecheck || to.group == G::kStep || to.group == G::kVerify ||
             (to.group == G::kGlobalRollback && to.index < from.index);
  }
  return false;
}

namespace {

bool SamePosition(const StepPosition& a, const StepPosition& b) {
  return a.group == b.group && a.index == b.index && a.action == b.action;
}

}  // namespace

namespace {

size_t HashOf(std::string_view id) { return std::hash<std::string_view>()(id); }
uint64_t SlotTag(size_t hash) { return static_cast<uint64_t>(hash) >> 32 << 32; }
uint64_t SlotValue(size_t hash, size_t index) { return SlotTag(hash) | (index + 1); }
uint32_t SlotIndex(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }

}  // namespace

size_t Validator::SlotOf(std::string_view id, size_t hash) const {
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = SlotTag(hash);
  size_t slot = hash & mask;
  for (; slots_[slot] != 0; slot = (slot + 1) & mask) {
    const uint64_t s = slots_[slot];
    if ((s & 0xffffffff00000000u) == tag && IdOf(steps_[SlotIndex(s)]) == id) break;
  }
  return slot;
}

void Validator::Rehash(size_t count) {
  if (2 * count <= slots_.size()) return;
  size_t size = 64;
  while (size < 2 * count) size *= 2;
  slots_.assign(size, 0);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const size_t hash = HashOf(IdOf(steps_[i]));
    slots_[SlotOf(IdOf(steps_[i]), hash)] = SlotValue(hash, i);
  }
}

void Validator::ExpectSteps(size_t count) { Rehash(steps_.size() + count); }

const Validator::StepEntry* Validator::FindStep(std::string_view id) const {
  if (slots_.empty()) return nullptr;
  const uint64_t slot = slots_[SlotOf(id, HashOf(id))];
  return slot == 0 ? nullptr : &steps_[SlotIndex(slot)];
}

void Validator::RegisterStep(const std::string& id, const StepPosition& pos, SourceLoc loc,
                             const std::vector<OutputSpec>& outputs) {
  Rehash(steps_.size() + 1);
  const size_t hash = HashOf(id);
  const size_t slot = SlotOf(id, hash);
  if (slots_[slot] != 0) {
    const StepEntry& first = steps_[SlotIndex(slots_[slot])];
    reader_->Error(loc, "duplicate step id '" + id + "' (first used at line " +
                            std::to_string(first.loc.line) + "); ids must be unique");
    return;
  }
  slots_[slot] = SlotValue(hash, steps_.size());
  StepEntry entry;
  entry.id_begin = static_cast<uint32_t>(ids_.size());
  entry.id_size = static_cast<uint32_t>(id.size());
  entry.pos = pos;
  entry.loc = loc;
  entry.outputs_begin = static_cast<uint32_t>(output_names_.size());
  for (const OutputSpec& o : outputs) output_names_.push_back(o.name);
  entry.outputs_end = static_cast<uint32_t>(output_names_.size());
  ids_ += id;
  steps_.push_back(entry);
}

void Validator::ErrorAt(const std::string& file, SourceLoc loc, std::string message) {
  if (file.empty()) {
    reader_->Error(loc, std::move(message));
  } else {
    reader_->ErrorIn(file, loc, std::move(message));
  }
}

void Validator::CheckTemplate(const std::string& text, Quoting quoting, SourceLoc loc,
                              const StepPosition& from, bool only_params) {
  if (text.find("{{") == std::string::npos) return;  // the common case, kept cheap
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(text, quoting, &tmpl, &error)) {
    reader_->Error(loc, error.message);
    return;
  }
  CheckRefs(tmpl, loc, from, only_params, "");
}

void Validator::CheckManifests(const std::string& apply, SourceLoc loc, const StepPosition& from) {
  if (!read_files_ || apply.find("{{") != std::string::npos) return;
  auto listed = ListManifestFiles(apply, dir_);
  if (!listed.ok()) {
    reader_->Error(loc, "apply: " + listed.message());
    return;
  }
  for (const std::string& file : listed->files) {
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      reader_->Error(loc, "apply: cannot read " + file);
      continue;
    }
    if (text.find("{{") == std::string::npos) continue;
    const ManifestTemplate parsed = ParseManifestTemplate(text);
    for (const TemplateError& e : parsed.errors)
      reader_->ErrorIn(file, LocationOf(text, e.offset), e.message);
    // Each placeholder is located on its own line of the manifest.
    for (const Template::Piece& piece : parsed.tmpl.pieces) {
      if (!piece.is_ref) continue;
      Template one;
      one.pieces.push_back(piece);
      CheckRefs(one, LocationOf(text, piece.ref.offset), from, false, file);
    }
  }
}

void Validator::CheckRefs(const Template& tmpl, SourceLoc loc, const StepPosition& from,
                          bool only_params, const std::string& file) {
  for (const Template::Piece& piece : tmpl.pieces) {
    if (!piece.is_ref) continue;
    const TemplateRef& ref = piece.ref;
    std::string written = PlaceholderText(ref);
    if (only_params && ref.kind != TemplateRef::Kind::kParam) {
      ErrorAt(file, loc,
              "placeholder " + written +
                  " is not allowed here: only params are known before the run starts");
      continue;
    }
    switch (ref.kind) {
      case TemplateRef::Kind::kParam:
        if (params_.count(ref.name) == 0) {
          ErrorAt(file, loc, "undefined placeholder " + written + ": no param '" + ref.name +
                                 "' (declare it under params)");
        }
        break;
      case TemplateRef::Kind::kSecret:
        if (secrets_.count(ref.name) == 0) {
          ErrorAt(file, loc, "undefined placeholder " + written + ": no secret '" + ref.name +
                                 "' (declare it under secrets)");
        }
        break;
      case TemplateRef::Kind::kRunId:
      case TemplateRef::Kind::kEnv:
        break;
      case TemplateRef::Kind::kStepStdout:
      case TemplateRef::Kind::kStepStderr:
      case TemplateRef::Kind::kStepOutput:
        step_refs_.push_back({ref, loc, from, file});
        break;
    }
  }
}

void Validator::CheckStepReferences() {
  for (const StepRef& use : step_refs_) {
    const TemplateRef& ref = use.ref;
    std::string written = PlaceholderText(ref);
    const StepEntry* found = FindStep(ref.name);
    if (found == nullptr) {
      ErrorAt(use.file, use.loc, "undefined placeholder " + written + ": no step '" + ref.name + "'");
      continue;
    }
    const StepEntry& target = *found;
    if (!StepVisible(use.from, target.pos)) {
      std::string why;
      if (SamePosition(use.from, target.pos)) {
        why = "which is this step itself; a step can only read steps that ran before it";
      } else if (target.pos.group == StepPosition::Group::kStepRollback) {
        why = "a rollback action of another step, which may not have run";
      } else {
        why = "which does not run before this step";
      }
      ErrorAt(use.file, use.loc,
                     "placeholder " + written + " refers to step '" + ref.name + "', " + why);
      continue;
    }
    if (ref.kind == TemplateRef::Kind::kStepOutput) {
      bool declared = false;
      for (uint32_t i = target.outputs_begin; i < target.outputs_end; ++i) {
        declared = declared || output_names_[i] == ref.output;
      }
      if (!declared) {
        ErrorAt(use.file, use.loc, "undefined placeholder " + written + ": step '" + ref.name +
                                    "' declares no output '" + ref.output + "' (add outputs: {" +
                                    ref.output + ": stdout} to it)");
      }
    }
  }
  step_refs_.clear();
}

std::string HomeDir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/";
}

std::string Validator::ResolvePath(const std::string& path) const {
  if (path.empty() || path.rfind("{{", 0) == 0) return path;
  std::filesystem::path p;
  if (path == "~") {
    p = HomeDir();
  } else if (path.rfind("~/", 0) == 0) {
    p = std::filesystem::path(HomeDir()) / path.substr(2);
  } else {
    p = path;
  }
  if (p.is_relative()) p = std::filesystem::path(dir_) / p;
  return p.lexically_normal().string();
}

}  // namespace runbook
