// runbooks/library/k8s-rolling-update.yaml end to end: validated through the loader, and run
// through the built binary (RUNBOOK_BINARY_DIR/runbook) with the real kubectl against the
// Kubernetes API stand-in (or a real cluster, RUNBOOK_K8S_E2E_KUBECONFIG): a good rollout, a
// rollout whose HTTP verification fails and is undone, a broken image that never gets ready
// and is undone, and a dry run that changes nothing. Also a StatefulSet and a DaemonSet changed
// by one `rollback: auto` apply and undone through their ControllerRevisions when a later
// step fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/loader.h"
#include "steps/process.h"
#include "testing/http_test_server.h"
#include "testing/kubectl_cluster_fixture.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;
using testing::KubeCluster;
using testing::TempDir;

const std::string kRunbook =
    std::string(RUNBOOK_SOURCE_DIR) + "/runbooks/library/k8s-rolling-update.yaml";

TEST(KubeRunbook, LibraryRunbookValidates) {
  LoadResult loaded = LoadRunbookFile(kRunbook);
  std::string diagnostics;
  for (const auto& d : loaded.diagnostics) diagnostics += d.ToString() + "\n";
  ASSERT_TRUE(loaded.ok()) << diagnostics;
  const Runbook& rb = *loaded.runbook;
  ASSERT_EQ(rb.steps.size(), 1u);
  const auto& apply = std::get<KubectlAction>(rb.steps[0].action);
  EXPECT_EQ(apply.apply, std::string(RUNBOOK_SOURCE_DIR) + "/runbooks/library/k8s");
  EXPECT_EQ(rb.steps[0].rollback.kind, RollbackSpec::Kind::kAuto);
  EXPECT_EQ(apply.resolved.namespace_, "web");
  EXPECT_GT(apply.wait.count(), 0);
}

/// The summary `runbook run --json` prints last.
nlohmann::json Summary(const ProcessResult& p) {
  size_t at = p.stdout_tail.rfind("\n{");
  std::string last = p.stdout_tail.substr(at == std::string::npos ? 0 : at + 1);
  return nlohmann::json::parse(last, nullptr, false);
}

class KubeRunbookRun : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    ASSERT_EQ(::access(binary_.c_str(), X_OK), 0) << "no runbook binary at " << binary_;
    ASSERT_TRUE(cluster_.error().empty()) << cluster_.error();
    health_.server().Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (healthy_) {
        res.set_content("ok\n", "text/plain");
      } else {
        res.status = 503;
        res.set_content("starting\n", "text/plain");
      }
    });
    ASSERT_TRUE(health_.Start());
    // The library runbook as shipped, with its verification's retry interval shortened so
    // that a verification that must fail fails in about a second, and (on a real cluster)
    // aimed at the test's own namespace rather than `web`.
    namespace_ = KubeCluster::Real() ? cluster_.ns() : "web";
    std::ifstream in(kRunbook);
    std::stringstream text;
    text << in.rdbuf();
    std::string copy = text.str();
    ASSERT_THAT(copy, HasSubstr("interval: 3s"));
    copy = std::regex_replace(copy, std::regex("interval: 3s"), "interval: 100ms");
    if (KubeCluster::Real()) {
      copy = std::regex_replace(copy, std::regex("namespace: web"), "namespace: " + namespace_);
      copy =
          std::regex_replace(copy, std::regex("namespace, web,"), "namespace, " + namespace_ + ",");
    } else {
      ProcessResult ns = cluster_.Kubectl({"create", "namespace", "web"}, false);
      ASSERT_TRUE(ns.ok()) << ns.stderr_tail;
    }
    std::filesystem::copy(std::string(RUNBOOK_SOURCE_DIR) + "/runbooks/library/k8s",
                          work_.path() + "/k8s");
    runbook_ = work_.Write("k8s-rolling-update.yaml", copy);
  }

  /// `runbook ARGS` with the cluster's kubeconfig as $KUBECONFIG (the runbook names none).
  ProcessResult Runbook(std::vector<std::string> args) {
    ProcessSpec spec;
    spec.argv = {binary_};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env_add = cluster_.env();
    spec.env_add["KUBECONFIG"] = cluster_.kubeconfig();
    spec.env_add["RUNBOOK_AUDIT_DB"] = work_.path() + "/audit.db";
    spec.env_add["NO_COLOR"] = "1";
    spec.cwd = work_.path();
    spec.timeout = std::chrono::seconds(KubeCluster::WaitSeconds() * 4);
    spec.tail_bytes = 1 << 20;
    return RunProcess(spec, -1);
  }

  /// `runbook run` of `image`. Only a broken image gets the short progress deadline, so that
  /// a loaded machine cannot make a good rollout miss it.
  ProcessResult Run(const std::string& image, std::vector<std::string> extra = {}) {
    int deadline = image == KubeCluster::BrokenImage() ? KubeCluster::SafeDeadlineSeconds()
                                                       : KubeCluster::SafeDeadlineSeconds() * 30;
    std::vector<std::string> args = {"run",
                                     runbook_,
                                     "--json",
                                     "-p",
                                     "image=" + image,
                                     "-p",
                                     "health_url=" + health_.Url("/health"),
                                     "-p",
                                     "replicas=2",
                                     "-p",
                                     "progress_deadline=" + std::to_string(deadline)};
    args.insert(args.end(), extra.begin(), extra.end());
    return Runbook(args);
  }

  std::string Image() {
    ProcessResult p =
        cluster_.Kubectl({"--namespace=" + namespace_, "get", "deployment", "web", "-o",
                          "jsonpath={.spec.template.spec.containers[0].image}"});
    return p.ok() ? p.stdout_tail : "(" + p.stderr_tail + ")";
  }

  KubeCluster cluster_{0.1};
  TempDir work_;
  testing::HttpTestServer health_;
  std::atomic<bool> healthy_{true};
  std::string binary_, runbook_, namespace_;
};

TEST_F(KubeRunbookRun, RollsOutVerifiesAndUndoesFailedReleases) {
  // 1. A first release: creates the Deployment and its Service, verifies, succeeds.
  ProcessResult first = Run(KubeCluster::GoodImage1());
  ASSERT_EQ(first.exit_status, 0) << first.stdout_tail << first.stderr_tail;
  EXPECT_EQ(Summary(first)["state"], "succeeded");
  EXPECT_EQ(Image(), KubeCluster::GoodImage1());

  // 2. The new version rolls out but never answers healthy: verification fails and the
  //    Deployment goes back to the revision recorded before the apply.
  healthy_ = false;
  ProcessResult unhealthy = Run(KubeCluster::GoodImage2());
  EXPECT_EQ(unhealthy.exit_status, 1) << unhealthy.stdout_tail << unhealthy.stderr_tail;
  nlohmann::json summary = Summary(unhealthy);
  EXPECT_EQ(summary["state"], "rolled_back");
  EXPECT_EQ(Image(), KubeCluster::GoodImage1());
  ProcessResult audit =
      Runbook({"audit", "export", "--run", summary.value("run_id", "?"), "--format", "jsonl"});
  ASSERT_TRUE(audit.ok()) << audit.stderr_tail;
  EXPECT_THAT(audit.stdout_tail, HasSubstr("kubectl_revisions"));
  EXPECT_THAT(audit.stdout_tail, HasSubstr("kubectl_undo"));
  EXPECT_THAT(audit.stdout_tail, HasSubstr("\"context\":\"" + cluster_.context()));

  // 3. An image that never gets ready: the rollout misses its progress deadline, the step
  //    fails, the Deployment is undone.
  healthy_ = true;
  ProcessResult broken = Run(KubeCluster::BrokenImage());
  EXPECT_EQ(broken.exit_status, 1) << broken.stdout_tail << broken.stderr_tail;
  EXPECT_EQ(Summary(broken)["state"], "rolled_back");
  EXPECT_THAT(broken.stdout_tail + broken.stderr_tail, HasSubstr("exceeded its progress deadline"));
  EXPECT_EQ(Image(), KubeCluster::GoodImage1());

  // 4. A dry run checks the manifests on the server and changes nothing.
  ProcessResult dry = Run(KubeCluster::GoodImage2(), {"--dry-run"});
  EXPECT_EQ(dry.exit_status, 0) << dry.stdout_tail << dry.stderr_tail;
  EXPECT_EQ(Image(), KubeCluster::GoodImage1());

  for (const auto& r : cluster_.Requests()) {
    EXPECT_NE(r["status"], 501) << "the stand-in lacks " << r["method"] << " " << r["path"];
  }
}

// A StatefulSet and a DaemonSet, templated with the run's params.
const char kStatefulManifests[] = R"(apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  annotations:
    kubernetes.io/change-cause: "db {{ params.db_image }}"
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: "{{ params.db_image }}"
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  annotations:
    kubernetes.io/change-cause: "agent {{ params.agent_image }}"
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: agent
          image: "{{ params.agent_image }}"
)";

class KubeStatefulRun : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    ASSERT_EQ(::access(binary_.c_str(), X_OK), 0) << "no runbook binary at " << binary_;
    ASSERT_TRUE(cluster_.error().empty()) << cluster_.error();
    work_.Write("k8s/workloads.yaml", kStatefulManifests);
    std::ostringstream rb;
    rb << "runbook: stateful-release\n"
       << "params:\n"
       << "  db_image: {required: true}\n"
       << "  agent_image: {required: true}\n"
       << "  smoke_exit: {default: \"0\", pattern: '^[0-9]+$'}\n"
       << "targets:\n"
       << "  cluster: {kubeconfig: \"" << cluster_.kubeconfig() << "\", context: \""
       << cluster_.context() << "\", namespace: \"" << cluster_.ns() << "\"}\n"
       << "steps:\n"
       << "  - id: apply\n"
       << "    kubectl: {target: cluster, apply: k8s, wait: " << KubeCluster::WaitSeconds()
       << "s}\n"
       << "    rollback: auto\n"
       << "  - id: smoke\n"
       << "    shell: \"exit {{ params.smoke_exit }}\"\n";
    runbook_ = work_.Write("stateful.yaml", rb.str());
  }

  ProcessResult Run(const std::string& image, const std::string& smoke_exit) {
    ProcessSpec spec;
    spec.argv = {binary_, "run", runbook_, "--json"};
    for (std::string p : {"db_image=" + image, "agent_image=" + image, "smoke_exit=" + smoke_exit})
      spec.argv.insert(spec.argv.end(), {"-p", p});
    spec.env_add = cluster_.env();
    spec.env_add["RUNBOOK_AUDIT_DB"] = work_.path() + "/audit.db";
    spec.env_add["NO_COLOR"] = "1";
    spec.cwd = work_.path();
    spec.timeout = std::chrono::seconds(KubeCluster::WaitSeconds() * 4);
    spec.tail_bytes = 1 << 20;
    return RunProcess(spec, -1);
  }

  std::string Image(const std::string& workload) {
    ProcessResult p = cluster_.Kubectl(
        {"get", workload, "-o", "jsonpath={.spec.template.spec.containers[0].image}"});
    return p.ok() ? p.stdout_tail : "(" + p.stderr_tail + ")";
  }

  KubeCluster cluster_{0.1};
  TempDir work_;
  std::string binary_, runbook_;
};

TEST_F(KubeStatefulRun, StatefulSetAndDaemonSetGoBackWhenALaterStepFails) {
  // 1. The first release creates both and waits for their rollouts.
  ProcessResult first = Run(KubeCluster::GoodImage1(), "0");
  ASSERT_EQ(first.exit_status, 0) << first.stdout_tail << first.stderr_tail;
  EXPECT_EQ(Image("statefulset/db"), KubeCluster::GoodImage1());
  EXPECT_EQ(Image("daemonset/agent"), KubeCluster::GoodImage1());

  // 2. The second rolls both out to a new image, then its smoke test fails: the apply is
  //    undone, each workload going back to the ControllerRevision recorded before it.
  ProcessResult second = Run(KubeCluster::GoodImage2(), "1");
  EXPECT_EQ(second.exit_status, 1) << second.stdout_tail << second.stderr_tail;
  EXPECT_EQ(Summary(second)["state"], "rolled_back");
  EXPECT_EQ(Image("statefulset/db"), KubeCluster::GoodImage1());
  EXPECT_EQ(Image("daemonset/agent"), KubeCluster::GoodImage1());
  const std::pair<std::string, std::string> workloads[] = {{"statefulset/db", "db "},
                                                           {"daemonset/agent", "agent "}};
  for (const auto& [workload, cause] : workloads) {
    ProcessResult status = cluster_.Kubectl({"rollout", "status", workload, "--timeout=60s"});
    EXPECT_TRUE(status.ok()) << workload << ": " << status.stderr_tail;
    // The revision recorded before the release (1) is the current one again, renumbered 3.
    ProcessResult history = cluster_.Kubectl({"rollout", "history", workload});
    std::istringstream lines(history.stdout_tail);
    bool back = false;
    for (std::string line; std::getline(lines, line);) {
      back |= line.rfind("3 ", 0) == 0 &&
              line.find(cause + KubeCluster::GoodImage1()) != std::string::npos;
    }
    EXPECT_TRUE(back) << workload << ":\n" << history.stdout_tail;
  }
  for (const auto& r : cluster_.Requests()) {
    EXPECT_NE(r["status"], 501) << "the stand-in lacks " << r["method"] << " " << r["path"];
  }
}

}  // namespace
}  // namespace runbook
