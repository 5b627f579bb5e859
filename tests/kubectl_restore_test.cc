// `rollback: auto` puts back what an apply changed (SPEC §5), end to end through the built
// binary and the real kubectl against the Kubernetes API stand-in: objects without revisions
// (Service, ConfigMap, Secret) come back as they were, a Secret's earlier form never enters the
// audit log, the server-side dry runs of every apply run before the first change, and a
// kustomization folder is rendered and applied with -k.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "steps/process.h"
#include "testing/kubectl_cluster_fixture.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::KubeCluster;
using testing::TempDir;

class KubeRestore : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    ASSERT_EQ(::access(binary_.c_str(), X_OK), 0) << "no runbook binary at " << binary_;
    ASSERT_TRUE(cluster_.error().empty()) << cluster_.error();
  }

  std::string Target() const {
    return "targets:\n  cluster: {kubeconfig: " + cluster_.kubeconfig() + ", context: " +
           cluster_.context() + ", namespace: " + cluster_.ns() + "}\n";
  }

  /// `runbook ARGS` in the work folder with its own audit database.
  ProcessResult Runbook(std::vector<std::string> args) {
    ProcessSpec spec;
    spec.argv = {binary_};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env_add = cluster_.env();
    spec.env_add["RUNBOOK_AUDIT_DB"] = db_;
    spec.env_add["NO_COLOR"] = "1";
    spec.env_add["DB_PASSWORD"] = "hunter2-NEW";
    spec.cwd = work_.path();
    spec.timeout = std::chrono::seconds(KubeCluster::WaitSeconds() * 4);
    spec.tail_bytes = 1 << 20;
    return RunProcess(spec, -1);
  }

  /// Runs a runbook whose one step applies `apply` (the rest of the kubectl map may follow)
  /// with `rollback: auto` and whose verification fails; expects it rolled back.
  ProcessResult ApplyThenFailVerify(const std::string& apply, const std::string& head = "") {
    const std::string rb = work_.Write(
        "r.yaml", "runbook: restore\n" + head + Target() +
                      "steps:\n  - id: apply\n    kubectl: {target: cluster, apply: " + apply +
                      "}\n    rollback: auto\nverify:\n  - id: fails\n    shell: \"exit 1\"\n");
    ProcessResult run = Runbook({"run", rb, "--json"});
    EXPECT_EQ(run.exit_status, 1) << run.stdout_tail << run.stderr_tail;
    EXPECT_EQ(Summary(run)["state"], "rolled_back") << run.stdout_tail << run.stderr_tail;
    return run;
  }

  static nlohmann::json Summary(const ProcessResult& p) {
    size_t at = p.stdout_tail.rfind("\n{");
    std::string last = p.stdout_tail.substr(at == std::string::npos ? 0 : at + 1);
    return nlohmann::json::parse(last, nullptr, false);
  }

  void Apply(const std::string& manifest) {
    const std::string file = work_.Write("seed.yaml", manifest);
    ProcessResult p = cluster_.Kubectl({"apply", "-f", file});
    ASSERT_TRUE(p.ok()) << p.stderr_tail;
  }

  std::string Get(const std::string& what, const std::string& jsonpath) {
    ProcessResult p = cluster_.Kubectl({"get", what, "-o", "jsonpath=" + jsonpath});
    return p.ok() ? p.stdout_tail : "(" + p.stderr_tail + ")";
  }

  static std::string Service(const std::string& name, int port) {
    return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
           "\nspec:\n  selector: {app: " + name + "}\n  ports:\n  - port: " +
           std::to_string(port) + "\n";
  }
  static std::string ConfigMap(const std::string& name, const std::string& level) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name +
           "\ndata:\n  LEVEL: \"" + level + "\"\n";
  }
  static std::string Secret(const std::string& name, const std::string& password) {
    return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name +
           "\ntype: Opaque\nstringData:\n  password: \"" + password + "\"\n";
  }

  static std::string StsName(const std::string& manifest) {
    const size_t at = manifest.find("name: ");
    return at == std::string::npos ? "" : manifest.substr(at + 6, manifest.find('\n', at) - at - 6);
  }

  std::string AuditText() {
    std::ifstream in(db_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  KubeCluster cluster_{0.1};
  TempDir work_;
  std::string binary_;
  std::string db_ = work_.path() + "/audit.db";
};

TEST_F(KubeRestore, ObjectsWithoutRevisionsComeBackAndSecretsStayOutOfTheLog) {
  Apply(Service("api", 9000) + "---\n" + ConfigMap("api-env", "info") + "---\n" +
        Secret("api-db", "hunter2-OLD") + "---\n" +
        cluster_.Deployment("api", KubeCluster::GoodImage1(), 1));
  const std::string kLastApplied = "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}";
  const std::string applied_before = Get("service/api", kLastApplied);
  ASSERT_THAT(applied_before, HasSubstr("9000"));
  work_.Write("api.yaml", Service("api", 9443) + "---\n" + ConfigMap("api-env", "debug") +
                              "---\n" + Secret("api-db", "{{ secrets.db }}") + "---\n" +
                              cluster_.Deployment("api", KubeCluster::GoodImage2(), 1));
  const ProcessResult run = ApplyThenFailVerify("api.yaml, wait: 30s",
                                                 "secrets:\n  db: {env: DB_PASSWORD}\n");
  const std::string out = run.stdout_tail + run.stderr_tail;
  EXPECT_THAT(out, HasSubstr("service/api (namespace " + cluster_.ns() +
                             "): recorded; a rollback puts it back as it is now"));
  EXPECT_THAT(out, HasSubstr("secret/api-db (namespace " + cluster_.ns() +
                             "): recorded outside the audit log"));

  EXPECT_EQ(Get("service/api", "{.spec.ports[0].port}"), "9000");
  EXPECT_EQ(Get("configmap/api-env", "{.data.LEVEL}"), "info");
  // kubectl's record of the last apply is as it was: the next apply prunes nothing it never set.
  EXPECT_EQ(Get("service/api", kLastApplied), applied_before);
  Apply(Service("api", 9001));
  EXPECT_EQ(Get("service/api", "{.spec.ports[0].port}"), "9001");
  EXPECT_EQ(Get("secret/api-db", "{.data.password}"), "aHVudGVyMi1PTEQ=");  // hunter2-OLD
  EXPECT_EQ(Get("deployment/api", "{.spec.template.spec.containers[0].image}"),
            KubeCluster::GoodImage1());

  const std::string audit = AuditText();
  EXPECT_THAT(audit, Not(HasSubstr("aHVudGVyMi1PTEQ"))) << "the Secret's earlier data is in the log";
  EXPECT_THAT(audit, Not(HasSubstr("hunter2")));
  EXPECT_THAT(audit, HasSubstr("restore_file"));
  EXPECT_FALSE(std::filesystem::exists(db_ + ".restore/" + Summary(run).value("run_id", "?")))
      << "the kept Secret outlived a clean rollback";

  // Unchanged objects are left alone; what the rollback did is in the log.
  ProcessResult exported =
      Runbook({"audit", "export", "--run", Summary(run).value("run_id", "?"), "--format", "jsonl"});
  EXPECT_THAT(exported.stdout_tail, HasSubstr("\"action\":\"restore\""));
  EXPECT_THAT(exported.stdout_tail, HasSubstr("\"replaced\":true"));

  // The post-mortem report of that real run shows the workload's images before and after
  // (issue 13), taken from what the real kubectl recorded.
  ProcessResult report =
      Runbook({"report", Summary(run).value("run_id", "?"), "--out", "-"});
  ASSERT_EQ(report.exit_status, 0) << report.stderr_tail;
  const std::string html = report.stdout_tail;
  const size_t section = html.find("<section class=\"kubectl\">");
  ASSERT_NE(section, std::string::npos) << "no kubectl section in the report";
  const std::string kubectl = html.substr(section, html.find("</section>", section) - section);
  EXPECT_THAT(kubectl, HasSubstr("deployment/api"));
  EXPECT_THAT(kubectl, HasSubstr(KubeCluster::GoodImage1()));
  EXPECT_THAT(kubectl, HasSubstr(KubeCluster::GoodImage2()));
  EXPECT_THAT(kubectl, HasSubstr("rolled back"));
  EXPECT_THAT(html, Not(HasSubstr("hunter2")));
}

/// A manifest from the stand-in's collection of real-world ones.
std::string RealWorld(const std::string& name) {
  std::ifstream in(std::string(RUNBOOK_SOURCE_DIR) + "/testing/k8s_standin/testdata/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST_F(KubeRestore, RealWorldObjectsOfEveryKindComeBack) {
  const std::string ingress = RealWorld("ingress.yaml"), hpa = RealWorld("horizontalpodautoscaler.yaml"),
                    pvc = RealWorld("persistentvolumeclaim.yaml"), pdb = RealWorld("poddisruptionbudget.yaml"),
                    sts = RealWorld("statefulset.yaml");
  ASSERT_FALSE(ingress.empty() || hpa.empty() || pvc.empty() || pdb.empty() || sts.empty());
  Apply(ingress + "---\n" + hpa + "---\n" + pvc + "---\n" + pdb + "---\n" + sts);
  const std::string sts_image =
      Get("statefulset/" + StsName(sts), "{.spec.template.spec.containers[0].image}");
  work_.Write("changed.yaml",
              Replaced(ingress, "host: shop.example.com", "host: shop2.example.com") + "---\n" +
                  Replaced(hpa, "maxReplicas: 10", "maxReplicas: 30") + "---\n" +
                  Replaced(pvc, "tier: storage", "tier: archive") + "---\n" +
                  Replaced(pdb, "minAvailable: 1", "minAvailable: 2") + "---\n" +
                  Replaced(sts, "image: ", "image: registry.example/changed-") + "---\n" +
                  RealWorld("cronjob.yaml"));
  ApplyThenFailVerify("changed.yaml");
  EXPECT_EQ(Get("ingress/shop", "{.spec.rules[0].host}"), "shop.example.com");
  EXPECT_EQ(Get("hpa/shop", "{.spec.maxReplicas}"), "10");
  EXPECT_EQ(Get("pvc/shop-uploads", "{.metadata.labels.tier}"), "storage");
  EXPECT_EQ(Get("pdb/shop", "{.spec.minAvailable}"), "1");
  EXPECT_EQ(Get("statefulset/" + StsName(sts), "{.spec.template.spec.containers[0].image}"),
            sts_image);
  EXPECT_THAT(Get("cronjob/shop-report", "{.metadata.name}"), HasSubstr("NotFound"));
}

TEST_F(KubeRestore, RecoverAfterTheExecutorDiedPutsTheSecretBackFromItsKeptFile) {
  Apply(Secret("api-db", "hunter2-OLD") + "---\n" + ConfigMap("api-env", "info"));
  work_.Write("api.yaml", Secret("api-db", "{{ secrets.db }}") + "---\n" + ConfigMap("api-env", "debug"));
  const std::string rb = work_.Write(
      "r.yaml", "runbook: crash\nsecrets:\n  db: {env: DB_PASSWORD}\n" + Target() +
                    "steps:\n  - id: apply\n    kubectl: {target: cluster, apply: api.yaml}\n"
                    "    rollback: auto\n"
                    "verify:\n  - id: executor-dies\n    shell: \"kill -9 $PPID; sleep 5\"\n");
  ProcessResult run = Runbook({"run", rb});
  ASSERT_NE(run.exit_status, 0) << run.stdout_tail << run.stderr_tail;
  EXPECT_EQ(Get("secret/api-db", "{.data.password}"), "aHVudGVyMi1ORVc=");  // hunter2-NEW
  std::error_code ec;
  ASSERT_TRUE(std::filesystem::exists(db_ + ".restore", ec)) << "no kept Secret to recover from";

  ProcessResult recovered = Runbook({"recover"});
  const std::string out = recovered.stdout_tail + recovered.stderr_tail;
  EXPECT_EQ(recovered.exit_status, 1) << out;  // rolled back
  EXPECT_EQ(Get("secret/api-db", "{.data.password}"), "aHVudGVyMi1PTEQ=") << out;
  EXPECT_EQ(Get("configmap/api-env", "{.data.LEVEL}"), "info");
  EXPECT_TRUE(std::filesystem::is_empty(db_ + ".restore", ec)) << "the kept Secret outlived the recovery";
  EXPECT_THAT(AuditText(), Not(HasSubstr("aHVudGVyMi1PTEQ")));
}

TEST_F(KubeRestore, AnObjectDeletedDuringTheRunIsCreatedAgain) {
  Apply(ConfigMap("flags", "old"));
  work_.Write("cm.yaml", ConfigMap("flags", "new"));
  const std::string rb = work_.Write(
      "r.yaml", "runbook: gone\n" + Target() +
                    "steps:\n  - id: apply\n    kubectl: {target: cluster, apply: cm.yaml}\n"
                    "    rollback: auto\n"
                    "  - id: remove\n    kubectl: {target: cluster, args: [delete, configmap, flags]}\n"
                    "  - id: fail\n    shell: \"exit 1\"\n");
  ProcessResult run = Runbook({"run", rb, "--json"});
  ASSERT_EQ(run.exit_status, 1) << run.stdout_tail << run.stderr_tail;
  EXPECT_EQ(Get("configmap/flags", "{.data.LEVEL}"), "old");
}

TEST_F(KubeRestore, EveryApplyIsDryRunBeforeAnythingChanges) {
  work_.Write("first.yaml", ConfigMap("first", "a"));
  std::string bad = cluster_.Deployment("web", KubeCluster::GoodImage1());
  bad.replace(bad.find("replicas:"), 9, "replica:");
  work_.Write("second.yaml", bad);
  const std::string rb = work_.Write(
      "d.yaml", "runbook: early\n" + Target() +
                    "steps:\n  - id: mark\n    shell: \"touch changed\"\n"
                    "  - id: first\n    kubectl: {target: cluster, apply: first.yaml}\n"
                    "    rollback: auto\n"
                    "  - id: second\n    kubectl: {target: cluster, apply: second.yaml}\n"
                    "    rollback: auto\n");
  ProcessResult run = Runbook({"run", rb, "--json"});
  const std::string out = run.stdout_tail + run.stderr_tail;
  EXPECT_EQ(run.exit_status, 5) << out;
  EXPECT_EQ(Summary(run)["state"], "aborted");
  EXPECT_FALSE(std::filesystem::exists(work_.path() + "/changed")) << "a step ran: " << out;
  EXPECT_THAT(Get("configmap/first", "{.data.LEVEL}"), HasSubstr("NotFound"));
  EXPECT_THAT(out, HasSubstr("spec.replica"));
}

TEST_F(KubeRestore, AnEarlyDryRunWaitsForTheNamespaceAnEarlierStepCreates) {
  work_.Write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: later-ns\n");
  work_.Write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in-new-ns\n"
                         "  namespace: later-ns\ndata:\n  a: \"1\"\n");
  const std::string rb = work_.Write(
      "n.yaml", "runbook: ns\ntargets:\n  cluster: {kubeconfig: " + cluster_.kubeconfig() +
                    ", context: " + cluster_.context() + "}\n" +
                    "steps:\n  - id: namespace\n    kubectl: {target: cluster, apply: ns.yaml}\n"
                    "  - id: config\n    kubectl: {target: cluster, apply: cm.yaml}\n"
                    "    rollback: auto\n");
  ProcessResult run = Runbook({"run", rb, "--json"});
  const std::string out = run.stdout_tail + run.stderr_tail;
  ASSERT_EQ(run.exit_status, 0) << out;
  EXPECT_THAT(out, HasSubstr("dry run deferred to the step: its namespace may be created by the "
                             "earlier step namespace"));
  ProcessResult got = cluster_.Kubectl({"get", "configmap", "in-new-ns", "-n", "later-ns"}, false);
  EXPECT_TRUE(got.ok()) << got.stderr_tail;
}

TEST_F(KubeRestore, AKustomizationIsRenderedAndAppliedWithK) {
  Apply(ConfigMap("app-settings", "old"));
  work_.Write("kust/kustomization.yaml", "resources:\n- base/cm.yaml\n");
  work_.Write("kust/base/cm.yaml", ConfigMap("app-settings", "{{ params.level }}"));
  const std::string rb = work_.Write(
      "k.yaml", "runbook: kust\nparams:\n  level: {required: true}\n" + Target() +
                    "steps:\n  - id: apply\n    kubectl: {target: cluster, apply: kust}\n"
                    "    rollback: auto\n"
                    "  - id: look\n    shell: \"exit {{ params.level }}\"\n");
  ProcessResult ok = Runbook({"run", rb, "--json", "-p", "level=0"});
  ASSERT_EQ(ok.exit_status, 0) << ok.stdout_tail << ok.stderr_tail;
  EXPECT_EQ(Get("configmap/app-settings", "{.data.LEVEL}"), "0");
  ProcessResult failed = Runbook({"run", rb, "--json", "-p", "level=3"});
  ASSERT_EQ(failed.exit_status, 1) << failed.stdout_tail << failed.stderr_tail;
  EXPECT_EQ(Get("configmap/app-settings", "{.data.LEVEL}"), "0") << "not put back after the -k apply";
}

}  // namespace
}  // namespace runbook
