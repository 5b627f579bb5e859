#include "app/bound_files.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <variant>

#include "engine/plan.h"
#include "engine/shell_words.h"
#include "engine/template.h"
#include "steps/kubectl_manifests.h"

namespace runbook {
namespace fs = std::filesystem;
namespace {

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// The first 12 hex digits of a digest, for messages.
std::string Short(const std::string& sha256) {
  return sha256.size() > 12 ? sha256.substr(0, 12) + "…" : sha256;
}

class Collector {
 public:
  Collector(const Runbook& rb, const std::map<std::string, std::string>& params) : rb_(rb) {
    // A `secret: true` param stays a placeholder: its value is bound through the params
    // part of the plan hash, and no digest listed in the open may depend on it.
    for (const auto& [name, value] : params) known_[name] = value;
    for (const ParamSpec& p : rb.params)
      if (p.secret) known_.erase(p.name);
    for (const SecretSpec& s : rb.secrets)
      if (s.source == SecretSpec::Source::kFile) secret_files_.insert(Canonical(s.ref));
  }

  BoundInputs Collect(bool inputs_only = false) {
    for (const std::string& entry : rb_.inputs) Input(entry);
    if (inputs_only) return std::move(out_);
    for (const auto* list : {&rb_.prechecks, &rb_.steps, &rb_.verify, &rb_.rollback}) {
      for (const StepSpec& step : *list) {
        Step(step);
        for (const StepSpec& undo : step.rollback.actions) Step(undo);
      }
    }
    for (auto& [key, file] : files_) out_.files.push_back(std::move(file));
    std::sort(out_.files.begin(), out_.files.end());
    return std::move(out_);
  }

 private:
  fs::path Absolute(const std::string& path, const fs::path& base) const {
    fs::path p = path;
    if (p.is_relative()) p = base / p;
    return p.lexically_normal();
  }

  std::string Canonical(const fs::path& p) const {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return (ec ? p : c).string();
  }

  // The path as plans list it: relative to the runbook's folder.
  std::string Listed(const fs::path& abs) const {
    if (rb_.dir.empty()) return abs.string();
    fs::path rel = abs.lexically_relative(rb_.dir);
    return rel.empty() ? abs.string() : rel.string();
  }

  void Bind(const fs::path& abs, const std::string& use, const std::string& why) {
    const std::string path = Listed(abs);
    if (files_.count({path, use}) || secret_files_.count(Canonical(abs))) return;
    auto digest = FileSha256(abs);
    if (!digest.ok()) {
      out_.errors.push_back(why + ": " + digest.message());
      return;
    }
    files_[{path, use}] = {path, use, *digest};
  }

  void BindRendered(const ManifestFile& m) {
    const std::string path = Listed(fs::path(m.source).lexically_normal());
    if (files_.count({path, "manifest"}) || secret_files_.count(Canonical(m.source))) return;
    files_[{path, "manifest"}] = {path, "manifest", Sha256Hex(m.text)};
  }

  // An `inputs:` entry: a path or a glob; a folder stands for every file in it.
  void Input(const std::string& entry) {
    const std::string why = "inputs: '" + entry + "'";
    const fs::path pattern = Absolute(entry, rb_.dir);
    std::vector<fs::path> matches;
    if (HasGlobChars(entry)) {
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) {
        out_.errors.push_back(why + ": cannot list the files it matches in " + rb_.dir);
        return;
      }
    } else {
      std::error_code ec;
      if (fs::exists(pattern, ec)) matches.push_back(pattern);
    }
    size_t bound = 0;
    for (const fs::path& m : matches) {
      std::error_code ec;
      if (fs::is_regular_file(m, ec)) {
        Bind(m, "input", why);
        ++bound;
      } else if (fs::is_directory(m, ec)) {
        std::vector<fs::path> inside;
        for (auto it = fs::recursive_directory_iterator(m, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
          if (it->is_regular_file(ec)) inside.push_back(it->path());
        std::sort(inside.begin(), inside.end());
        for (const fs::path& f : inside) Bind(f, "input", why);
        bound += inside.size();
      }
    }
    if (bound == 0)
      out_.errors.push_back(why + " matches no file in " + rb_.dir +
                            " (inputs are paths or globs relative to the runbook's folder)");
  }

  void Step(const StepSpec& step) {
    if (const auto* shell = std::get_if<ShellAction>(&step.action)) {
      Shell(step, *shell);
    } else if (const auto* kube = std::get_if<KubectlAction>(&step.action)) {
      if (!kube->apply.empty()) Manifests(step, *kube);
    }
  }

  void Shell(const StepSpec& step, const ShellAction& shell) {
    fs::path cwd = rb_.dir;
    if (!shell.cwd.empty()) {
      const std::string dir = RenderKnownParams(shell.cwd, known_);
      if (dir.find("{{") != std::string::npos) {
        out_.unbound.push_back("step " + step.id + " works in " + shell.cwd +
                               ", known only during the run: files its command names are "
                               "not bound (list them under inputs:)");
        return;
      }
      cwd = Absolute(dir, rb_.dir);
    }
    for (const std::string& word : KnownCommandWords(shell.command, known_)) {
      if (word.front() == '/') continue;  // system programs; list others under inputs:
      const fs::path file = Absolute(word, cwd);
      std::error_code ec;
      if (fs::is_regular_file(file, ec))
        Bind(file, "command", "step " + step.id + " names " + word);
    }
  }

  void Manifests(const StepSpec& step, const KubectlAction& kube) {
    const std::string path = RenderKnownParams(kube.apply, known_);
    if (path.find("{{") != std::string::npos) {
      out_.unbound.push_back("step " + step.id + " applies the manifests at " + kube.apply +
                             ", known only during the run");
      return;
    }
    std::error_code ec;
    if (!fs::exists(Absolute(path, rb_.dir), ec)) {
      out_.unbound.push_back("step " + step.id + " applies the manifests at " + path +
                             ", which do not exist yet (if an earlier step makes them, "
                             "reviewers cannot see them)");
      return;
    }
    auto set = ReadManifests(path, rb_.dir, KnownParamValues(known_));
    if (!set.ok()) {
      out_.errors.push_back("step " + step.id + ": " + set.message());
      return;
    }
    for (const ManifestFile& m : set->files) BindRendered(m);
  }

  const Runbook& rb_;
  std::map<std::string, std::string> known_;
  std::set<std::string> secret_files_;
  std::map<std::pair<std::string, std::string>, BoundFile> files_;  // by (path, use)
  BoundInputs out_;
};

}  // namespace

BoundInputs CollectBoundFiles(const Runbook& runbook,
                              const std::map<std::string, std::string>& params) {
  return Collector(runbook, params).Collect();
}

std::vector<std::string> InputErrors(const Runbook& runbook) {
  return Collector(runbook, {}).Collect(/*inputs_only=*/true).errors;
}

std::vector<BoundFile> PlannedFiles(const PlanRecord& plan) {
  if (!plan.document.is_object() || !plan.document.contains("files")) return {};
  std::vector<BoundFile> files = BoundFilesFromJson(plan.document["files"]);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> BoundFileChanges(const std::vector<BoundFile>& planned,
                                          const std::vector<BoundFile>& now) {
  using Key = std::pair<std::string, std::string>;
  std::map<Key, std::string> before, after;
  std::map<std::string, int> uses;  // how many uses a path has: named with its use when > 1
  for (const BoundFile& f : planned) before[{f.path, f.use}] = f.sha256;
  for (const BoundFile& f : now) after[{f.path, f.use}] = f.sha256;
  std::set<Key> keys;
  for (const auto& [k, v] : before) keys.insert(k);
  for (const auto& [k, v] : after) keys.insert(k);
  for (const Key& k : keys) ++uses[k.first];
  std::vector<std::string> changes;
  for (const Key& k : keys) {
    const std::string name = k.first + (uses[k.first] > 1 ? " (" + k.second + ")" : "");
    auto b = before.find(k);
    auto a = after.find(k);
    if (b == before.end()) {
      changes.push_back(name + " appeared (sha256 " + Short(a->second) + ")");
    } else if (a == after.end()) {
      changes.push_back(name + " is gone (was sha256 " + Short(b->second) + ")");
    } else if (a->second != b->second) {
      changes.push_back(name + " changed (sha256 " + Short(b->second) + " → " + Short(a->second) +
                        ")");
    }
  }
  return changes;
}

std::string ChangedFilesRefusal(const PlanRecord& plan, const std::string& runbook_file,
                                const std::vector<std::string>& changes) {
  const std::string next =
      "; put them back as they were planned (remove those that appeared), or make a new plan "
      "with `runbook plan " +
      runbook_file + " ...` and have it approved";
  if (changes.empty())  // the hash differs, the lists do not: a list stored unsorted
    return "the files bound by plan " + plan.plan_id + " do not match the plan hash" + next;
  if (changes.size() == 1) {
    // "scripts/deploy.sh changed (sha256 …)" -> "scripts/deploy.sh changed since plan P was
    // made (sha256 …)"
    const std::string& c = changes.front();
    const size_t paren = c.rfind(" (");
    const bool appeared = c.find(" appeared (") != std::string::npos;
    return c.substr(0, paren) + " since plan " + plan.plan_id + " was made" + c.substr(paren) +
           (appeared ? "; remove it" : "; put it back as it was planned") +
           ", or make a new plan with `runbook plan " + runbook_file + " ...` and have it approved";
  }
  std::string out = std::to_string(changes.size()) + " files bound by plan " + plan.plan_id +
                    " differ from when it was made:";
  for (const std::string& c : changes) out += "\n  " + c;
  return out + "\n" + next.substr(2);
}

}  // namespace runbook
