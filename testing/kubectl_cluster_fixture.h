// A Kubernetes API for the kubectl tests: by default the stand-in
// (testing/k8s_standin/server.py) started on a free loopback port for one test, or, when
// RUNBOOK_K8S_E2E_KUBECONFIG names a kubeconfig (optionally with RUNBOOK_K8S_E2E_CONTEXT),
// that real cluster (kind, minikube), in a namespace of its own that is deleted afterwards.
// See docs/kubectl.md. Used by steps/kubectl_runner_test.cc and tests/kubectl_runbook_test.cc.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "steps/process.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace runbook::testing {

/// True when `program` is an executable file in one of the folders of $PATH.
inline bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream folders(path != nullptr ? path : "");
  for (std::string folder; std::getline(folders, folder, ':');) {
    if (::access(((folder.empty() ? "." : folder) + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

/// The cluster one test talks to.
class KubeCluster {
 public:
  /// True when the tests run against a real cluster (RUNBOOK_K8S_E2E_KUBECONFIG).
  static bool Real() {
    const char* k = std::getenv("RUNBOOK_K8S_E2E_KUBECONFIG");
    return k != nullptr && *k != '\0';
  }

  /// Starts the stand-in (or connects to the real cluster) and creates the test's namespace.
  /// `step` is the stand-in controller's seconds per rollout step. On failure, error() says why.
  explicit KubeCluster(double step = 0.1) {
    env_["KUBECACHEDIR"] = dir_.path() + "/kube-cache";
    // Both are installed by scripts/setup.sh: a test that cannot run fails, and says why.
    if (!OnPath("kubectl")) {
      error_ = "kubectl not found on PATH (scripts/setup.sh installs kubernetes-client)";
      return;
    }
    if (Real()) {
      kubeconfig_ = std::getenv("RUNBOOK_K8S_E2E_KUBECONFIG");
      const char* c = std::getenv("RUNBOOK_K8S_E2E_CONTEXT");
      context_ = c ? c : "";
      if (context_.empty()) {  // name it explicitly, as the runner does
        ProcessResult p = Kubectl({"config", "current-context"}, false);
        context_ = p.stdout_tail.substr(0, p.stdout_tail.find('\n'));
        if (!p.ok() || context_.empty()) {
          error_ = "the kubeconfig has no current context; set RUNBOOK_K8S_E2E_CONTEXT";
          return;
        }
      }
      std::random_device rd;
      namespace_ = "runbook-e2e-" + std::to_string(rd() % 1000000);
    } else {
      StartStandin(step);
      if (!error_.empty()) return;
      namespace_ = "e2e";
    }
    ProcessResult p = Kubectl({"create", "namespace", namespace_}, /*in_namespace=*/false);
    if (!p.ok()) error_ = "cannot create namespace " + namespace_ + ": " + p.error + p.stderr_tail;
  }

  ~KubeCluster() {
    if (Real()) {
      Kubectl({"delete", "namespace", namespace_, "--wait=false"}, false);
    }
    if (pid_ > 0) {
      if (stdin_fd_ >= 0) ::close(stdin_fd_);  // the stand-in exits on EOF
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  KubeCluster(const KubeCluster&) = delete;
  KubeCluster& operator=(const KubeCluster&) = delete;

  const std::string& error() const { return error_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  /// The context to name in targets.
  std::string context() const { return Real() ? context_ : "k8s-standin"; }
  const std::string& ns() const { return namespace_; }
  /// Environment for every kubectl the test or the runner starts (a private discovery cache).
  const std::map<std::string, std::string>& env() const { return env_; }

  /// Images that pull and run (real clusters need real ones), and one that never gets ready
  /// (the stand-in's convention, and an image tag that does not exist on real registries).
  static std::string Image(const std::string& version) {
    return "registry.k8s.io/pause:" + version;
  }
  static std::string GoodImage1() { return Image("3.9"); }
  static std::string GoodImage2() { return Image("3.10"); }
  static std::string BrokenImage() { return Image("broken"); }
  /// Seconds to let a rollout run and a broken one hit its progress deadline.
  static int WaitSeconds() { return Real() ? 180 : 20; }
  static int DeadlineSeconds() { return Real() ? 30 : 1; }
  /// A progress deadline for runs that mix good and broken images.
  static int SafeDeadlineSeconds() { return Real() ? 30 : 2; }

  /// Runs kubectl against the cluster (in the test's namespace unless told otherwise).
  ProcessResult Kubectl(const std::vector<std::string>& args, bool in_namespace = true) const {
    ProcessSpec spec;
    spec.argv = {"kubectl", "--kubeconfig=" + kubeconfig_};
    if (!context().empty()) spec.argv.push_back("--context=" + context());
    if (in_namespace) spec.argv.push_back("--namespace=" + namespace_);
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env_add = env_;
    spec.timeout = std::chrono::milliseconds(60000);
    spec.tail_bytes = 8 << 20;
    return RunProcess(spec, -1);
  }
  /// `kubectl get ARGS -o json`, parsed (null when it fails).
  nlohmann::json GetJson(const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"get"};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), {"-o", "json"});
    ProcessResult p = Kubectl(full);
    if (!p.ok() || p.stdout_tail.find_first_not_of(" \n") == std::string::npos) return nullptr;
    return nlohmann::json::parse(p.stdout_tail, nullptr, false);
  }
  /// Every request the stand-in has answered (empty with a real cluster).
  nlohmann::json Requests() const {
    if (Real()) return nlohmann::json::array();
    ProcessResult p = Kubectl({"get", "--raw", "/_standin/requests"}, false);
    nlohmann::json doc = nlohmann::json::parse(p.stdout_tail, nullptr, false);
    return doc.is_object() ? doc["requests"] : nlohmann::json::array();
  }

  /// A Deployment manifest: `replicas` pods of `image`. Only a broken image gets the short
  /// progress deadline, so that a slow machine cannot make a good rollout miss it.
  std::string Deployment(const std::string& name, const std::string& image,
                         int replicas = 2) const {
    std::ostringstream m;
    m << "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " << name
      << "\n  labels: {app: " << name << "}\nspec:\n  replicas: " << replicas
      << "\n  progressDeadlineSeconds: "
      << (image == BrokenImage() ? DeadlineSeconds() : DeadlineSeconds() * 30)
      << "\n  selector:\n    matchLabels: {app: " << name << "}\n  template:\n"
      << "    metadata:\n      labels: {app: " << name << "}\n    spec:\n"
      << "      terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n"
      << "        image: \"" << image << "\"\n";
    return m.str();
  }

 private:
  void StartStandin(double step) {
    if (!OnPath("python3")) {
      error_ = "python3 not found on PATH (scripts/setup.sh installs it); the stand-in needs it";
      return;
    }
    kubeconfig_ = dir_.path() + "/kubeconfig";
    std::string server = std::string(RUNBOOK_K8S_STANDIN_DIR) + "/server.py";
    std::vector<std::string> argv = {"python3",
                                     server,
                                     "--port",
                                     "0",
                                     "--step",
                                     std::to_string(step),
                                     "--kubeconfig",
                                     kubeconfig_,
                                     "--exit-on-stdin-eof",
                                     "--request-log",
                                     dir_.path() + "/requests.jsonl"};
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      error_ = "pipe failed";
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string log = dir_.path() + "/standin.log";
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int rc = ::posix_spawnp(&pid_, "python3", &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_fd_ = in[1];
    if (rc != 0) {
      pid_ = -1;
      ::close(out[0]);
      error_ = "cannot start python3 " + server + ": " + std::strerror(rc);
      return;
    }
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    if (line.rfind("k8s-standin listening on ", 0) != 0) {
      error_ = "the stand-in did not start: " + line + " " + ReadFile(log);
    }
  }

  TempDir dir_{"kubectl_test"};
  std::map<std::string, std::string> env_;
  std::string kubeconfig_, context_, namespace_, error_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

}  // namespace runbook::testing
