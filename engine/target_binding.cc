// BindTargets (engine/action_parser.h): the text fields of targets take params, rendered
// once the params are bound and before anything is compiled, planned or run, so that a plan
// shows, and the run uses, the namespace or hosts the params chose.
#include <filesystem>

#include "engine/action_parser.h"
#include "engine/loader.h"
#include "engine/validator.h"

namespace runbook {
namespace {

class TargetBinder {
 public:
  TargetBinder(const Runbook& runbook, const std::map<std::string, std::string>& params)
      : dir_(runbook.dir), params_(params) {}

  void Ssh(const std::string& where, SshTarget* t) {
    for (std::string& host : t->hosts) {
      if (host.find("{{") == std::string::npos) continue;
      const std::string written = host;
      host = Text(where + " hosts", host);
      if (!ValidHost(host)) {
        Fail(where + " hosts: " + written + " renders to '" + host +
             "', which is not a host (use name, name:port or an address)");
      }
    }
    t->user = Text(where + " user", t->user);
    t->identity_file = Path(where + " identity_file", t->identity_file);
    t->known_hosts = Path(where + " known_hosts", t->known_hosts);
  }

  void Kube(const std::string& where, KubeTarget* t) {
    t->kubeconfig = Path(where + " kubeconfig", t->kubeconfig);
    t->context = Text(where + " context", t->context);
    t->namespace_ = Text(where + " namespace", t->namespace_);
  }

  void Steps(std::vector<StepSpec>* steps) {
    for (StepSpec& step : *steps) {
      const std::string where = "step " + step.id + ":";
      if (auto* ssh = std::get_if<SshAction>(&step.action)) Ssh(where, &ssh->resolved);
      if (auto* kube = std::get_if<KubectlAction>(&step.action)) Kube(where, &kube->resolved);
      Steps(&step.rollback.actions);
    }
  }

  Status status() const {
    return errors_.empty() ? Status::Ok() : Status::Invalid(errors_);
  }

 private:
  std::string Text(const std::string& where, const std::string& text) {
    if (text.find("{{") == std::string::npos) return text;
    std::string out = RenderKnownParams(text, params_);
    if (out.find("{{") != std::string::npos)
      Fail(where + ": " + text + " names something other than a param");
    if (out.empty()) Fail(where + ": " + text + " renders to nothing");
    return out;
  }

  std::string Path(const std::string& where, const std::string& path) {
    if (path.find("{{") == std::string::npos) return path;
    std::filesystem::path p = Text(where, path);
    if (p.string() == "~") p = HomeDir();
    else if (p.string().rfind("~/", 0) == 0) p = std::filesystem::path(HomeDir()) / p.string().substr(2);
    if (p.is_relative()) p = std::filesystem::path(dir_) / p;
    return p.lexically_normal().string();
  }

  void Fail(const std::string& message) {
    if (!errors_.empty()) errors_ += "\n";
    errors_ += message;
  }

  std::string dir_;
  const std::map<std::string, std::string>& params_;
  std::string errors_;
};

}  // namespace

Status BindTargets(Runbook* runbook, const std::map<std::string, std::string>& params) {
  TargetBinder binder(*runbook, params);
  for (auto& [name, target] : runbook->targets) {
    const std::string where = "target " + name + ":";
    if (target.kind == Target::Kind::kSsh) binder.Ssh(where, &target.ssh);
    if (target.kind == Target::Kind::kKube) binder.Kube(where, &target.kube);
  }
  binder.Steps(&runbook->prechecks);
  binder.Steps(&runbook->steps);
  binder.Steps(&runbook->verify);
  binder.Steps(&runbook->rollback);
  return binder.status();
}

}  // namespace runbook
