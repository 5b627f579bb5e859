// Tests of the kubectl action. The pure parts (object references, undo state, manifests) are
// tested directly; the runner end to end with the real kubectl against the Kubernetes API
// stand-in (testing/k8s_standin), or a real cluster when RUNBOOK_K8S_E2E_KUBECONFIG is set
// (docs/kubectl.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/plan.h"
#include "steps/kubectl_command.h"
#include "steps/kubectl_history.h"
#include "steps/kubectl_manifests.h"
#include "steps/kubectl_objects.h"
#include "steps/process.h"
#include "steps/step_runners.h"
#include "testing/fake_step_context.h"
#include "testing/kubectl_cluster_fixture.h"

namespace runbook {
namespace {

using testing::FakeStepContext;
using ::testing::HasSubstr;
using testing::KubeCluster;
using ::testing::Not;
using testing::TempDir;

// ---------------------------------------------------------------- pure parts

TEST(KubeObjects, ParsesOneObjectOrAList) {
  auto one = ParseObjectRefs(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","namespace":"shop"}})");
  ASSERT_TRUE(one.ok()) << one.message();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].ResourceArg(), "deployment.v1.apps");
  EXPECT_EQ((*one)[0].Display(), "deployment/web");
  EXPECT_EQ((*one)[0].namespace_, "shop");

  auto list = ParseObjectRefs(R"({"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"a"}},
      {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]})");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].ResourceArg(), "configmap");
  EXPECT_EQ((*list)[1].namespace_, "");
  EXPECT_FALSE(WorkloadKindOf((*list)[0]).has_value());

  EXPECT_FALSE(ParseObjectRefs("error: something").ok());
}

TEST(KubeObjects, ImagesOfWorkloadsAndNothingElse) {
  auto deployment = nlohmann::json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web"},"spec":{"template":{"spec":{
        "initContainers":[{"name":"migrate","image":"web-migrate:2"}],
        "containers":[{"name":"main","image":"web:2","env":[{"name":"TOKEN","value":"s3cret"}]},
                      {"name":"proxy","image":"envoy:1"}]}}}})");
  EXPECT_EQ(PodTemplateImages(deployment),
            (std::map<std::string, std::string>{
                {"init:migrate", "web-migrate:2"}, {"main", "web:2"}, {"proxy", "envoy:1"}}));
  EXPECT_TRUE(PodTemplateImages(nlohmann::json::parse(R"({"kind":"Secret","data":{"a":"b"}})"))
                  .empty());

  auto list = WorkloadImages(R"({"kind":"List","items":[
      {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"c2VjcmV0"}},
      {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"x"},
       "spec":{"template":{"spec":{"containers":[{"name":"pg","image":"postgres:16"}]}}}}]})");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].first.Display(), "statefulset/db");
  EXPECT_EQ(list[0].second.at("pg"), "postgres:16");
  EXPECT_TRUE(WorkloadImages("error: not json").empty());
}

TEST(KubeObjects, SelectorStringMatchesKubectlSyntax) {
  auto sel = nlohmann::json::parse(R"({"matchLabels":{"app":"web","tier":"front"},
      "matchExpressions":[{"key":"env","operator":"In","values":["prod","canary"]},
                          {"key":"legacy","operator":"DoesNotExist"}]})");
  EXPECT_EQ(SelectorString(sel), "app=web,tier=front,env in (canary,prod),!legacy");
  EXPECT_EQ(SelectorString(nlohmann::json()), "");
}

TEST(KubeHistory, UndoStateRoundTripsAndSkipsWhatCannotBeUndone) {
  std::vector<PriorState> states(7);
  states[0].ref = {"apps/v1", "Deployment", "web", "shop"};
  states[0].existed = true;
  states[0].revision = 3;
  states[0].revision_object = "web-abc";
  states[1].ref = {"apps/v1", "Deployment", "worker", "shop"};  // created by the apply
  states[2].ref = {"v1", "ConfigMap", "cfg", "shop"};           // no revisions: recorded whole
  states[2].existed = true;
  states[2].prior = {{"kind", "ConfigMap"}, {"data", {{"a", "1"}}}};
  states[3].ref = {"v1", "Namespace", "shop", ""};  // created, but never deleted
  states[4].ref = {"v1", "Secret", "db", "shop"};   // kept outside the log
  states[4].existed = true;
  states[4].prior = {{"kind", "Secret"}, {"data", {{"pw", "c2VjcmV0"}}}};
  states[4].restore_file = "/kept/apply-1-2.json";
  states[4].restore_sha256 = "ab";
  states[5].ref = {"v1", "Secret", "forgotten", "shop"};  // not kept: never into the log
  states[5].existed = true;
  states[5].prior = {{"kind", "Secret"}, {"data", {{"pw", "c2VjcmV0"}}}};
  states[6].ref = {"apps/v1", "Deployment", "fresh", "shop"};  // no revision observed yet
  states[6].existed = true;
  nlohmann::json doc = UndoStateToJson(states);
  ASSERT_EQ(doc.size(), 5u) << doc.dump();
  EXPECT_EQ(doc[0]["revision"], 3);
  EXPECT_TRUE(doc[1]["revision"].is_null());
  EXPECT_EQ(doc[2]["restore"], states[2].prior);
  EXPECT_EQ(doc[3]["restore_file"], "/kept/apply-1-2.json");
  EXPECT_EQ(doc.dump().find("c2VjcmV0"), std::string::npos) << "a Secret's data entered the log";
  EXPECT_THAT(doc[4].value("unrestorable", ""), HasSubstr("not kept outside the audit log"));

  auto back = UndoStateFromJson(doc);
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->size(), 5u);
  EXPECT_TRUE((*back)[0].existed);
  EXPECT_EQ((*back)[0].revision_object, "web-abc");
  EXPECT_FALSE((*back)[1].existed);
  EXPECT_EQ((*back)[1].ref, states[1].ref);
  EXPECT_TRUE(IsRestore((*back)[2]));
  EXPECT_EQ((*back)[2].prior, states[2].prior);
  EXPECT_EQ((*back)[3].restore_file, "/kept/apply-1-2.json");
  EXPECT_EQ((*back)[3].restore_sha256, "ab");
  EXPECT_TRUE((*back)[3].prior.is_null());
  EXPECT_FALSE((*back)[4].unrestorable.empty());
  EXPECT_FALSE(UndoStateFromJson(nlohmann::json::parse(
                   R"([{"apiVersion":"v1","kind":"Service","name":"a","existed":true}])"))
                   .ok());

  EXPECT_FALSE(UndoStateFromJson(nlohmann::json::parse(R"([{"kind":"Deployment"}])")).ok());
  EXPECT_FALSE(UndoStateFromJson(nlohmann::json::parse(R"({"a":1})")).ok());
  EXPECT_TRUE(UndoStateFromJson(nlohmann::json()).ok());
}

/// A fake `kubectl get` over a fixed set of objects.
KubeGetJson FakeGet(std::map<std::string, nlohmann::json> by_name,
                    std::vector<std::string>* calls) {
  return [by_name, calls](const std::vector<std::string>& args,
                          const std::string&) -> Result<nlohmann::json> {
    std::string key;
    for (const auto& a : args) key += (key.empty() ? "" : " ") + a;
    calls->push_back(key);
    auto it = by_name.find(args.size() > 1 && args[1] != "-l" ? args[0] + " " + args[1] : args[0]);
    return it == by_name.end() ? nlohmann::json() : it->second;
  };
}

TEST(KubeHistory, RecordsTheRevisionAndTheReplicaSetHoldingIt) {
  auto deployment = nlohmann::json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","uid":"u1",
                  "annotations":{"deployment.kubernetes.io/revision":"2"}},
      "spec":{"selector":{"matchLabels":{"app":"web"}}}})");
  auto rs_list = nlohmann::json::parse(R"({"items":[
      {"metadata":{"name":"web-old","ownerReferences":[{"uid":"u1"}],
                   "annotations":{"deployment.kubernetes.io/revision":"1"}}},
      {"metadata":{"name":"web-cur","ownerReferences":[{"uid":"u1"}],
                   "annotations":{"deployment.kubernetes.io/revision":"2"}}},
      {"metadata":{"name":"other","ownerReferences":[{"uid":"u9"}],
                   "annotations":{"deployment.kubernetes.io/revision":"2"}}}]})");
  std::vector<std::string> calls;
  auto get =
      FakeGet({{"deployment.v1.apps web", deployment}, {"replicaset.v1.apps", rs_list}}, &calls);
  auto states = ReadPriorState(
      {{"apps/v1", "Deployment", "web", "shop"}, {"apps/v1", "Deployment", "new", "shop"}}, get);
  ASSERT_TRUE(states.ok()) << states.message();
  ASSERT_EQ(states->size(), 2u);
  EXPECT_TRUE((*states)[0].existed);
  EXPECT_EQ((*states)[0].revision, 2);
  EXPECT_EQ((*states)[0].revision_object, "web-cur");
  EXPECT_FALSE((*states)[1].existed);
  EXPECT_THAT(calls, ::testing::Contains("replicaset.v1.apps -l app=web"));
}

TEST(KubeHistory, StatefulSetsAndDaemonSetsUseTheirControllerRevisions) {
  auto sts = nlohmann::json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
      "metadata":{"name":"db","uid":"s1"},"spec":{"selector":{"matchLabels":{"app":"db"}}},
      "status":{"currentRevision":"db-aaa","updateRevision":"db-bbb"}})");
  auto ds = nlohmann::json::parse(R"({"apiVersion":"apps/v1","kind":"DaemonSet",
      "metadata":{"name":"agent","uid":"d1"},"spec":{"selector":{"matchLabels":{"app":"db"}}}})");
  auto revisions = nlohmann::json::parse(R"({"items":[
      {"metadata":{"name":"db-aaa","ownerReferences":[{"uid":"s1"}]},"revision":1},
      {"metadata":{"name":"db-bbb","ownerReferences":[{"uid":"s1"}]},"revision":2},
      {"metadata":{"name":"agent-x","ownerReferences":[{"uid":"d1"}]},"revision":4},
      {"metadata":{"name":"agent-y","ownerReferences":[{"uid":"d1"}]},"revision":7}]})");
  std::vector<std::string> calls;
  auto get = FakeGet({{"statefulset.v1.apps db", sts},
                      {"daemonset.v1.apps agent", ds},
                      {"controllerrevision.v1.apps", revisions}},
                     &calls);
  auto states = ReadPriorState(
      {{"apps/v1", "StatefulSet", "db", "x"}, {"apps/v1", "DaemonSet", "agent", "x"}}, get);
  ASSERT_TRUE(states.ok()) << states.message();
  EXPECT_EQ((*states)[0].revision, 2);  // the update revision, by name
  EXPECT_EQ((*states)[0].revision_object, "db-bbb");
  EXPECT_EQ((*states)[1].revision, 7);  // a DaemonSet's newest revision
  EXPECT_EQ((*states)[1].revision_object, "agent-y");
  auto moved = FakeGet({{"controllerrevision.v1.apps db-bbb",
                         nlohmann::json::parse(R"({"metadata":{"name":"db-bbb"},"revision":5})")}},
                       &calls);
  EXPECT_EQ(*CurrentRevisionOf((*states)[0], moved), 5);
}

TEST(KubeHistory, UndoTargetFollowsTheReplicaSetWhenItsNumberMoved) {
  PriorState s;
  s.ref = {"apps/v1", "Deployment", "web", "shop"};
  s.existed = true;
  s.revision = 1;
  s.revision_object = "web-v1";
  std::vector<std::string> calls;
  // Revision 1's ReplicaSet was taken over by a later rollout and is now revision 3.
  auto moved = FakeGet({{"replicaset.v1.apps web-v1", nlohmann::json::parse(
                                                          R"({"metadata":{"name":"web-v1",
          "annotations":{"deployment.kubernetes.io/revision":"3"}}})")}},
                       &calls);
  auto to = CurrentRevisionOf(s, moved);
  ASSERT_TRUE(to.ok());
  EXPECT_EQ(*to, 3);
  // Pruned by revisionHistoryLimit: the recorded number is the best there is.
  auto gone = FakeGet({}, &calls);
  EXPECT_EQ(*CurrentRevisionOf(s, gone), 1);
}

/// A context that renders `{{ params.NAME }}` from a map, like the executor would.
class ParamContext : public FakeStepContext {
 public:
  std::map<std::string, std::string> params;
  std::string Render(std::string_view tmpl, Quoting, std::string_view) const override {
    std::string s(tmpl);
    for (const auto& [name, value] : params) {
      std::string ph = "{{ params." + name + " }}";
      for (size_t at; (at = s.find(ph)) != std::string::npos;) s.replace(at, ph.size(), value);
    }
    return s;
  }
};

TEST(KubeManifests, RendersEveryManifestOfAFolderPrivately) {
  TempDir dir;
  dir.Write("m/b.yaml", "image: app:{{ params.version }}\n");
  dir.Write("m/a.json", "{}");
  dir.Write("m/notes.txt", "not a manifest");
  ParamContext context;
  context.params["version"] = "1.2.3";
  context.runbook_.dir = dir.path();
  auto rendered = RenderedManifests::Render("m", context);
  ASSERT_TRUE(rendered.ok()) << rendered.message();
  const auto& r = **rendered;
  ASSERT_EQ(r.sources().size(), 2u);
  EXPECT_THAT(r.sources()[0], HasSubstr("a.json"));
  EXPECT_EQ(r.source_dir(), dir.path() + "/m");
  std::ifstream in(r.apply_path() + "/b.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "image: app:1.2.3\n");
  ASSERT_EQ(r.digests().size(), 2u);
  EXPECT_EQ(r.digests()[1]["sha256"], Sha256Hex("image: app:1.2.3\n"));
  EXPECT_FALSE(r.digests()[1].contains("secrets_masked"));
  EXPECT_FALSE(std::filesystem::exists(r.apply_path() + "/notes.txt"));
  struct stat st;
  ASSERT_EQ(::stat((r.apply_path() + "/b.yaml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string temp = r.temp_dir();
  rendered = Result<std::unique_ptr<RenderedManifests>>::Error("drop");
  EXPECT_FALSE(std::filesystem::exists(temp));

  auto single = RenderedManifests::Render(dir.path() + "/m/b.yaml", context);
  ASSERT_TRUE(single.ok());
  EXPECT_THAT((*single)->apply_path(), HasSubstr("/b.yaml"));

  // A secret in a rendered manifest is masked before the digest is taken.
  dir.Write("s/secret.yaml", "token: s3cret\n");
  context.secrets = {"s3cret"};
  auto with_secret = RenderedManifests::Render("s/secret.yaml", context);
  ASSERT_TRUE(with_secret.ok()) << with_secret.message();
  EXPECT_EQ((*with_secret)->digests()[0]["sha256"], Sha256Hex("token: ***\n"));
  EXPECT_EQ((*with_secret)->digests()[0]["secrets_masked"], true);
  context.secrets = {};

  auto missing = RenderedManifests::Render("nope", context);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("nope does not exist"));
  dir.Write("empty/readme.md", "");
  auto empty = RenderedManifests::Render("empty", context);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.message(), HasSubstr("no manifests"));
}

// ---------------------------------------------------------------- end to end

/// One kubectl step and its context, against `cluster`.
class KubeStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.error().empty()) << cluster_.error();
    context_.env = cluster_.env();
    context_.runbook_.dir = manifests_.path();
  }

  void TearDown() override {
    if (KubeCluster::Real()) return;
    // Every request kubectl made must be one the stand-in implements.
    for (const auto& r : cluster_.Requests()) {
      EXPECT_NE(r["status"], 501) << "the stand-in lacks " << r["method"] << " " << r["path"] << "?"
                                  << r["query"];
    }
  }

  StepSpec ApplyStep(const std::string& path, int wait_seconds = KubeCluster::WaitSeconds()) {
    StepSpec step;
    step.id = "deploy";
    step.timeout = std::chrono::seconds(KubeCluster::WaitSeconds() * 3);
    step.kill_grace = std::chrono::seconds(2);
    KubectlAction action;
    action.resolved = {cluster_.kubeconfig(), cluster_.context(), cluster_.ns()};
    action.apply = path;
    action.wait = std::chrono::seconds(wait_seconds);
    step.action = action;
    step.rollback.kind = RollbackSpec::Kind::kAuto;
    return step;
  }

  StepSpec ArgsStep(std::vector<std::string> args) {
    StepSpec step = ApplyStep("");
    auto& action = std::get<KubectlAction>(step.action);
    action.apply.clear();
    action.args = std::move(args);
    return step;
  }

  StepResult Run(const StepSpec& step, bool dry_run = false) {
    StepRequest request;
    request.step = &step;
    request.dry_run = dry_run;
    return runner_->Run(request, context_);
  }

  StepResult Undo(const StepSpec& step, const StepResult& forward) {
    StepRequest request;
    request.step = &step;
    request.phase = Phase::kRollback;
    request.undoing = &step;
    request.undoing_result = &forward;
    request.auto_rollback = true;
    return runner_->Run(request, context_);
  }

  /// Writes `name` in the manifests folder.
  std::string Manifest(const std::string& name, const std::string& text) {
    manifests_.Write(name, text);
    return name;
  }

  /// Deploys `image` as Deployment `name` and waits for it.
  void Deploy(const std::string& name, const std::string& image, int replicas = 1) {
    StepResult r =
        Run(ApplyStep(Manifest(name + ".yaml", cluster_.Deployment(name, image, replicas))));
    ASSERT_TRUE(r.ok()) << r.error << "\n" << r.stderr_text;
  }

  std::string Image(const std::string& name) {
    nlohmann::json d = cluster_.GetJson({"deployment", name});
    return d.is_object() ? d["spec"]["template"]["spec"]["containers"][0]["image"] : "";
  }

  /// The name of the ReplicaSet that holds the Deployment's current revision.
  std::string CurrentReplicaSet(const std::string& name) {
    nlohmann::json d = cluster_.GetJson({"deployment", name});
    nlohmann::json list = cluster_.GetJson({"replicasets", "-l", "app=" + name});
    if (!d.is_object() || !list.is_object()) return "";
    auto revision = RevisionAnnotation(d);
    for (const auto& rs : list["items"]) {
      if (RevisionAnnotation(rs) == revision) return rs["metadata"]["name"];
    }
    return "";
  }

  std::vector<nlohmann::json> Records(const std::string& event) {
    std::vector<nlohmann::json> out;
    for (const auto& r : context_.records)
      if (r.event == event) out.push_back(r.detail);
    return out;
  }

  KubeCluster cluster_;
  TempDir manifests_;
  ParamContext context_;
  std::unique_ptr<StepRunner> runner_ = MakeKubectlRunner();
};

TEST_F(KubeStepTest, GoodRolloutSucceedsAndRecordsWhatWasThere) {
  StepSpec step =
      ApplyStep(Manifest("web.yaml", cluster_.Deployment("web", cluster_.GoodImage1())));
  StepResult first = Run(step);
  ASSERT_TRUE(first.ok()) << first.error << "\n" << first.stderr_text;
  EXPECT_EQ(first.detail["context"], cluster_.context());
  EXPECT_EQ(first.detail["namespace"], cluster_.ns());
  ASSERT_EQ(first.undo_state.size(), 1u);
  EXPECT_TRUE(first.undo_state[0]["revision"].is_null());  // created by this apply
  EXPECT_THAT(first.stdout_text, HasSubstr("successfully rolled out"));
  ASSERT_EQ(Records("kubectl_revisions").size(), 1u);
  EXPECT_EQ(Records("kubectl_revisions")[0]["objects"][0]["exists"], false);
  EXPECT_EQ(Records("kubectl_target")[0]["context"], cluster_.context());

  std::string holder = CurrentReplicaSet("web");
  Manifest("web.yaml", cluster_.Deployment("web", cluster_.GoodImage2()));
  StepResult second = Run(step);
  ASSERT_TRUE(second.ok()) << second.error;
  ASSERT_EQ(second.undo_state.size(), 1u);
  EXPECT_EQ(second.undo_state[0]["revision"], 1);
  EXPECT_EQ(second.undo_state[0]["revision_object"], holder);
  EXPECT_EQ(Image("web"), cluster_.GoodImage2());
  // What the apply changed, and the digest of exactly what it applied.
  ASSERT_EQ(Records("kubectl_revisions").size(), 2u);
  const nlohmann::json web = Records("kubectl_revisions")[1]["objects"][0];
  EXPECT_EQ(web["images_before"], nlohmann::json({{"main", cluster_.GoodImage1()}}));
  EXPECT_EQ(web["images_after"], nlohmann::json({{"main", cluster_.GoodImage2()}}));
  EXPECT_FALSE(Records("kubectl_revisions")[0]["objects"][0].contains("images_before"));
  ASSERT_EQ(second.detail["rendered_manifests"].size(), 1u);
  EXPECT_EQ(second.detail["rendered_manifests"][0]["sha256"],
            Sha256Hex(cluster_.Deployment("web", cluster_.GoodImage2())));
  nlohmann::json d = cluster_.GetJson({"deployment", "web"});
  EXPECT_EQ(RevisionAnnotation(d), 2);
  EXPECT_EQ(d["status"]["updatedReplicas"], 2);
  // Every kubectl call named the context explicitly.
  for (const auto& r : Records("process_started"))
    EXPECT_THAT(r["command"].get<std::string>(), HasSubstr("--context=" + cluster_.context()));
}

TEST_F(KubeStepTest, BrokenImageFailsTheWaitAndAutoRollbackRestoresTheRecordedRevision) {
  Deploy("web", cluster_.GoodImage1(), 2);
  std::string holder = CurrentReplicaSet("web");
  StepSpec step =
      ApplyStep(Manifest("web.yaml", cluster_.Deployment("web", cluster_.BrokenImage())));
  StepResult failed = Run(step);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.outcome, StepResult::Outcome::kFailed);
  EXPECT_THAT(failed.error, HasSubstr("rollout of deployment/web did not finish"));
  EXPECT_THAT(failed.error, HasSubstr("exceeded its progress deadline"));
  ASSERT_EQ(failed.undo_state.size(), 1u);
  EXPECT_EQ(failed.undo_state[0]["revision"], 1);

  StepResult undone = Undo(step, failed);
  ASSERT_TRUE(undone.ok()) << undone.error << "\n" << undone.stderr_text;
  EXPECT_EQ(undone.detail["undone"][0]["action"], "undo");
  EXPECT_EQ(undone.detail["undone"][0]["to_revision"], 1);
  EXPECT_THAT(undone.stdout_text, HasSubstr("rolled back"));
  EXPECT_EQ(Image("web"), cluster_.GoodImage1());
  EXPECT_EQ(CurrentReplicaSet("web"), holder);  // the very ReplicaSet recorded before apply
  nlohmann::json d = cluster_.GetJson({"deployment", "web"});
  EXPECT_EQ(d["status"]["availableReplicas"], 2);
  EXPECT_EQ(d["status"]["updatedReplicas"], 2);
  EXPECT_EQ(Records("kubectl_undo").size(), 1u);
}

TEST_F(KubeStepTest, ObjectsCreatedByAFailedApplyAreDeletedByTheRollback) {
  Deploy("keep", cluster_.GoodImage1());
  StepSpec step = ApplyStep(Manifest(
      "fresh.yaml", cluster_.Deployment("fresh", cluster_.BrokenImage()) +
                        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh-config}\n"
                        "data: {a: \"1\"}\n---\n" +
                        cluster_.Deployment("keep", cluster_.GoodImage1())));
  StepResult failed = Run(step);
  ASSERT_FALSE(failed.ok());
  ASSERT_EQ(failed.undo_state.size(), 3u) << failed.undo_state.dump();

  StepResult undone = Undo(step, failed);
  ASSERT_TRUE(undone.ok()) << undone.error;
  EXPECT_TRUE(cluster_.GetJson({"deployment", "fresh", "--ignore-not-found"}).is_null());
  EXPECT_TRUE(cluster_.GetJson({"configmap", "fresh-config", "--ignore-not-found"}).is_null());
  EXPECT_EQ(Image("keep"), cluster_.GoodImage1());  // unchanged, and still there
  // Undone in reverse order: the unchanged Deployment first, then the created objects.
  ASSERT_EQ(undone.detail["undone"].size(), 3u);
  EXPECT_EQ(undone.detail["undone"][0]["object"], "deployment/keep");
  EXPECT_EQ(undone.detail["undone"][2]["object"], "deployment/fresh");
  EXPECT_EQ(undone.detail["undone"][2]["action"], "delete");
}

TEST_F(KubeStepTest, TwoAppliesInOneRunUndoToTheirOwnRecordedRevisions) {
  Deploy("web", cluster_.GoodImage1());
  std::string original = CurrentReplicaSet("web");
  // Step a moves to image 2; step b goes back to image 1, which makes the original
  // ReplicaSet revision 3: revision 1 no longer exists by number.
  StepSpec a = ApplyStep(Manifest("a.yaml", cluster_.Deployment("web", cluster_.GoodImage2())));
  StepResult ra = Run(a);
  ASSERT_TRUE(ra.ok()) << ra.error;
  std::string second = CurrentReplicaSet("web");
  StepSpec b = ApplyStep(Manifest("b.yaml", cluster_.Deployment("web", cluster_.GoodImage1())));
  StepResult rb = Run(b);
  ASSERT_TRUE(rb.ok()) << rb.error;
  EXPECT_EQ(CurrentReplicaSet("web"), original);

  // The executor undoes in reverse: b, then a.
  StepResult ub = Undo(b, rb);
  ASSERT_TRUE(ub.ok()) << ub.error;
  EXPECT_EQ(Image("web"), cluster_.GoodImage2());
  EXPECT_EQ(CurrentReplicaSet("web"), second);
  StepResult ua = Undo(a, ra);
  ASSERT_TRUE(ua.ok()) << ua.error << "\n" << ua.stderr_text;
  EXPECT_EQ(Image("web"), cluster_.GoodImage1());
  EXPECT_EQ(CurrentReplicaSet("web"), original);
  EXPECT_EQ(ua.detail["undone"][0]["recorded_revision"], 1);
  EXPECT_EQ(ua.detail["undone"][0]["to_revision"], 3);
}

TEST_F(KubeStepTest, ServerDryRunCatchesAnInvalidManifestBeforeAnythingChanges) {
  Deploy("web", cluster_.GoodImage1());
  size_t before = cluster_.Requests().size();
  Manifest("release/10-web.yaml", cluster_.Deployment("web", cluster_.GoodImage2()));
  std::string bad = cluster_.Deployment("bad", cluster_.GoodImage1());
  bad.replace(bad.rfind("labels: {app: bad}"), 18, "labels: {app: other}");
  Manifest("release/20-bad.yaml", bad);
  StepResult r = Run(ApplyStep("release"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error, HasSubstr("server-side dry run failed"));
  EXPECT_THAT(r.error, HasSubstr("is invalid"));
  EXPECT_THAT(r.error, Not(HasSubstr("runbook-kubectl-")));  // no temporary paths
  EXPECT_TRUE(r.undo_state.is_null());
  EXPECT_EQ(Records("kubectl_revisions").size(), 1u);  // only the Deploy() before
  EXPECT_EQ(Image("web"), cluster_.GoodImage1());
  EXPECT_TRUE(cluster_.GetJson({"deployment", "bad", "--ignore-not-found"}).is_null());
  nlohmann::json requests = cluster_.Requests();
  for (size_t i = before; i < requests.size(); ++i) {
    const auto& q = requests[i];
    if (q["method"] != "GET") {
      EXPECT_THAT(q["query"].get<std::string>(), HasSubstr("dryRun=All")) << q.dump();
    }
  }

  // A typo in a field name is caught the same way (strict field validation).
  Manifest("typo.yaml", std::regex_replace(cluster_.Deployment("web", cluster_.GoodImage2()),
                                           std::regex("replicas:"), "replicaz:"));
  StepResult typo = Run(ApplyStep("typo.yaml"));
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.error, HasSubstr("unknown field \"spec.replicaz\""));
  EXPECT_THAT(typo.error, HasSubstr(manifests_.path() + "/typo.yaml"));
  EXPECT_EQ(Image("web"), cluster_.GoodImage1());
}

TEST_F(KubeStepTest, DryRunRequestRunsOnlyTheServerSideDryRun) {
  Deploy("web", cluster_.GoodImage1());
  StepResult r =
      Run(ApplyStep(Manifest("web.yaml", cluster_.Deployment("web", cluster_.GoodImage2()))),
          /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["dry_run"], true);
  EXPECT_EQ(r.detail["objects"][0], "deployment/web (namespace " + cluster_.ns() + ")");
  EXPECT_EQ(Image("web"), cluster_.GoodImage1());
  EXPECT_EQ(Records("kubectl_revisions").size(), 1u);  // only the Deploy() before
}

TEST_F(KubeStepTest, ArgsRunAnyKubectlCommand) {
  Deploy("web", cluster_.GoodImage1(), 2);
  StepSpec scale = ArgsStep({"scale", "deployment/web", "--replicas=3"});
  StepResult dry = Run(scale, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.error;
  EXPECT_THAT(dry.detail["command"].get<std::string>(), HasSubstr("--dry-run=server"));
  EXPECT_EQ(cluster_.GetJson({"deployment", "web"})["spec"]["replicas"], 2);

  StepResult real = Run(scale);
  ASSERT_TRUE(real.ok()) << real.error;
  EXPECT_THAT(real.stdout_text, HasSubstr("deployment.apps/web scaled"));
  EXPECT_EQ(cluster_.GetJson({"deployment", "web"})["spec"]["replicas"], 3);

  StepResult image =
      Run(ArgsStep({"set", "image", "deployment/web", "main=" + cluster_.GoodImage2()}));
  ASSERT_TRUE(image.ok()) << image.error;
  EXPECT_EQ(Image("web"), cluster_.GoodImage2());
  StepResult annotate = Run(ArgsStep({"annotate", "deployment/web", "team=web"}));
  ASSERT_TRUE(annotate.ok()) << annotate.error;
  StepResult restart = Run(ArgsStep({"rollout", "restart", "deployment/web"}), true);
  ASSERT_TRUE(restart.ok());
  EXPECT_EQ(restart.detail["skipped"], true);  // no server-side dry run for it

  StepResult missing = Run(ArgsStep({"get", "deployment/nope"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_THAT(missing.error, HasSubstr("\"nope\" not found"));

  StepResult no_undo = Undo(scale, real);
  ASSERT_FALSE(no_undo.ok());
  EXPECT_THAT(no_undo.error, HasSubstr("needs an `apply` step"));
}

TEST_F(KubeStepTest, ManifestsAreRenderedWithParams) {
  context_.params["image"] = cluster_.GoodImage2();
  StepResult r =
      Run(ApplyStep(Manifest("web.yaml", cluster_.Deployment("web", "{{ params.image }}"))));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(Image("web"), cluster_.GoodImage2());
}

TEST_F(KubeStepTest, ContextComesFromTheTargetOrIsResolvedOnceFromTheKubeconfig) {
  // A kubeconfig whose current context points at a dead server.
  std::string kc = manifests_.path() + "/kubeconfig";
  ProcessResult view =
      cluster_.Kubectl({"config", "view", "--raw", "--minify", "--flatten"}, false);
  ASSERT_TRUE(view.ok()) << view.stderr_tail;
  manifests_.Write("kubeconfig", view.stdout_tail);
  auto kubectl = [&](std::vector<std::string> args) {
    ProcessSpec spec;
    spec.argv = {"kubectl", "--kubeconfig=" + kc, "config"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env_add = cluster_.env();
    ProcessResult p = RunProcess(spec, -1);
    ASSERT_TRUE(p.ok()) << p.stderr_tail;
  };
  kubectl({"set-cluster", "dead", "--server=http://127.0.0.1:1"});
  kubectl({"set-context", "dead", "--cluster=dead"});
  kubectl({"use-context", "dead"});

  StepSpec step = ArgsStep({"get", "namespace", cluster_.ns(), "-o", "name"});
  auto& action = std::get<KubectlAction>(step.action);
  action.resolved.kubeconfig = kc;
  StepResult named = Run(step);
  ASSERT_TRUE(named.ok()) << named.error;  // the target's context, not the current one
  EXPECT_EQ(named.stdout_text, "namespace/" + cluster_.ns() + "\n");

  action.resolved.context.clear();
  // What `runbook plan` shows: the context a target without one will use.
  Result<KubeEndpoint> planned = ResolveKubeTarget(action.resolved);
  ASSERT_TRUE(planned.ok()) << planned.message();
  EXPECT_EQ(planned->context, "dead");
  EXPECT_EQ(planned->server, "http://127.0.0.1:1");
  EXPECT_EQ(planned->namespace_, cluster_.ns());
  StepResult dead = Run(step);
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.detail["context"], "dead");
  EXPECT_THAT(dead.error,
              HasSubstr("could not reach the Kubernetes API server at http://127.0.0.1:1 "
                        "(context dead)"));
  EXPECT_THAT(dead.error, HasSubstr("connection refused"));

  kubectl({"use-context", cluster_.context()});
  context_.records.clear();
  StepResult resolved = Run(step);
  ASSERT_TRUE(resolved.ok()) << resolved.error;
  std::string used = resolved.detail["context"];
  EXPECT_FALSE(used.empty());
  ASSERT_FALSE(Records("process_started").empty());
  for (const auto& r : Records("process_started"))
    EXPECT_THAT(r["command"].get<std::string>(), HasSubstr("--context=" + used));
}

TEST_F(KubeStepTest, AnUnreachableApiServerOrAMissingKubectlIsNamed) {
  std::string kc = manifests_.Write("dead.kubeconfig", R"(apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: dead, context: {cluster: dead, namespace: web}}]
current-context: dead
)");
  StepSpec step =
      ApplyStep(Manifest("web.yaml", cluster_.Deployment("web", cluster_.GoodImage1())));
  auto& action = std::get<KubectlAction>(step.action);
  action.resolved = {kc, "", ""};
  StepResult r = Run(step);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error, HasSubstr("could not reach the Kubernetes API server at "
                                 "http://127.0.0.1:1 (context dead)"));
  EXPECT_EQ(r.detail["namespace"], "web");  // the context's namespace, passed explicitly

  action.resolved = {manifests_.path() + "/nope.kubeconfig", "", ""};
  r = Run(step);
  EXPECT_THAT(r.error, HasSubstr("nope.kubeconfig does not exist"));

  context_.env["PATH"] = manifests_.path();
  r = Run(step);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error, "kubectl not found on PATH (install kubernetes-client)");
}

TEST_F(KubeStepTest, InterruptionAndTheStepTimeoutEndTheAttempt) {
  // A broken image with a long progress deadline: `rollout status` would wait for minutes.
  std::string stuck = std::regex_replace(cluster_.Deployment("web", cluster_.BrokenImage()),
                                         std::regex("progressDeadlineSeconds: [0-9]+"),
                                         "progressDeadlineSeconds: 600");
  StepSpec step = ApplyStep(Manifest("web.yaml", stuck));
  std::thread canceller([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    context_.cancel.Cancel();
  });
  StepResult cancelled = Run(step);
  canceller.join();
  EXPECT_EQ(cancelled.outcome, StepResult::Outcome::kCancelled) << cancelled.error;
  EXPECT_EQ(cancelled.error, "interrupted");
  EXPECT_LT(cancelled.duration, std::chrono::seconds(8));
  EXPECT_EQ(cancelled.undo_state.size(), 1u);  // recorded before the apply: undo is possible

  FakeStepContext fresh;  // not cancelled
  fresh.env = cluster_.env();
  fresh.runbook_.dir = manifests_.path();
  step.timeout = std::chrono::seconds(3);
  StepRequest request;
  request.step = &step;
  StepResult timed_out = runner_->Run(request, fresh);
  EXPECT_EQ(timed_out.outcome, StepResult::Outcome::kTimedOut) << timed_out.error;
  EXPECT_THAT(timed_out.error, HasSubstr("the step's timeout ran out"));
  EXPECT_LT(timed_out.duration, std::chrono::seconds(8));
}

TEST(KubeStandin, PythonSelfTestsPass) {
  ProcessSpec spec;
  spec.argv = {"python3", "-m",       "unittest", "discover", "-s", RUNBOOK_K8S_STANDIN_DIR,
               "-p",      "test_*.py"};
  spec.timeout = std::chrono::seconds(60);
  ProcessResult p = RunProcess(spec, -1);
  EXPECT_TRUE(p.ok()) << p.error << p.stderr_tail;
  EXPECT_THAT(p.stderr_tail, HasSubstr("OK"));
}

}  // namespace
}  // namespace runbook
