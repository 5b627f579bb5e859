#include "app/bound_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/plans.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
#include "engine/plan.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using runbook::testing::FakeEnvironment;
using runbook::testing::FakeSigner;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "path use" of each bound file, in order.
std::vector<std::string> Listed(const BoundInputs& bound) {
  std::vector<std::string> out;
  for (const BoundFile& f : bound.files) out.push_back(f.path + " " + f.use);
  return out;
}

class BoundFilesTest : public ::testing::Test {
 protected:
  // Loads `text` as dir/rb.yaml with `params` and collects what it binds.
  BoundInputs Collect(const std::string& text, const std::vector<std::string>& params = {}) {
    dir_.Write("rb.yaml", text);
    loaded_ = LoadRunbookWithParams(dir_ / "rb.yaml", params);
    EXPECT_TRUE(loaded_.ok()) << loaded_.error_summary << loaded_.status.message();
    if (!loaded_.ok()) return {};
    return CollectBoundFiles(*loaded_.runbook, loaded_.params);
  }

  runbook::testing::TempDir dir_{"bound-files"};
  LoadedRunbook loaded_;
};

TEST_F(BoundFilesTest, AScriptNamedInAShellCommandIsBoundWithItsSha256) {
  dir_.Write("scripts/deploy.sh", "echo deploy\n");
  dir_.Write("scripts/check.sh", "true\n");
  dir_.Write("scripts/undo.sh", "true\n");
  dir_.Write("sub/local.sh", "true\n");
  dir_.Write("scripts/out.log", "written by the step, not read\n");
  BoundInputs bound = Collect(R"(runbook: b
params:
  v: {default: "1"}
prechecks:
  - shell: "sh scripts/check.sh"
steps:
  - id: go
    shell: "sh scripts/deploy.sh {{ params.v }} > scripts/out.log"
    rollback:
      shell: "sh ./scripts/undo.sh"
  - id: there
    shell: {command: "sh local.sh && sh /bin/true scripts", cwd: sub}
)");
  EXPECT_TRUE(bound.errors.empty()) << bound.errors[0];
  EXPECT_THAT(Listed(bound), ElementsAre("scripts/check.sh command", "scripts/deploy.sh command",
                                         "scripts/undo.sh command", "sub/local.sh command"));
  EXPECT_EQ(bound.files[1].sha256, Sha256Hex("echo deploy\n"));
}

TEST_F(BoundFilesTest, AParamPlaceholderIsPartOfTheWordASecretOneIsNot) {
  dir_.Write("scripts/blue.sh", "blue\n");
  dir_.Write("scripts/green.sh", "green\n");
  BoundInputs bound = Collect(R"(runbook: b
params:
  color: {default: blue}
  hidden: {default: green, secret: true}
steps:
  - id: go
    shell: "sh scripts/{{ params.color }}.sh && sh scripts/{{ params.hidden }}.sh"
)");
  EXPECT_THAT(Listed(bound), ElementsAre("scripts/blue.sh command"));
  const std::string text = loaded_.runbook->text;
  bound = Collect(text, {"color=green"});
  EXPECT_THAT(Listed(bound), ElementsAre("scripts/green.sh command"));
}

TEST_F(BoundFilesTest, AWorkingDirectoryKnownOnlyDuringTheRunIsNoted) {
  BoundInputs bound = Collect(R"(runbook: b
steps:
  - id: make
    shell: "mktemp -d"
    outputs: {dir: stdout}
  - id: go
    shell: {command: "sh x.sh", cwd: "{{ steps.make.outputs.dir }}"}
)");
  EXPECT_TRUE(bound.files.empty());
  ASSERT_EQ(bound.unbound.size(), 1u);
  EXPECT_THAT(bound.unbound[0], HasSubstr("step go works in {{ steps.make.outputs.dir }}"));
}

TEST_F(BoundFilesTest, InputsArePathsGlobsOrFolders) {
  dir_.Write("config/app.conf", "threads=4\n");
  dir_.Write("config/db.conf", "pool=10\n");
  dir_.Write("config/notes.txt", "x\n");
  dir_.Write("data/a/one.csv", "1\n");
  dir_.Write("data/two.csv", "2\n");
  dir_.Write("VERSION", "1\n");
  BoundInputs bound = Collect(R"(runbook: b
inputs: ["config/*.conf", data, ./VERSION]
steps:
  - id: go
    shell: "cat config/*.conf"
)");
  EXPECT_TRUE(bound.errors.empty()) << bound.errors[0];
  EXPECT_THAT(Listed(bound),
              ElementsAre("VERSION input", "config/app.conf input", "config/db.conf input",
                          "data/a/one.csv input", "data/two.csv input"));
}

TEST_F(BoundFilesTest, AnInputThatMatchesNothingIsAnErrorNamingIt) {
  BoundInputs bound = Collect(R"(runbook: b
inputs: ["config/*.conf", missing.txt]
steps:
  - id: go
    shell: "true"
)");
  ASSERT_EQ(bound.errors.size(), 2u);
  EXPECT_THAT(bound.errors[0],
              HasSubstr("inputs: 'config/*.conf' matches no file in " + dir_.path()));
  EXPECT_THAT(bound.errors[1], HasSubstr("inputs: 'missing.txt' matches no file"));
  EXPECT_EQ(InputErrors(*loaded_.runbook), bound.errors);
}

TEST_F(BoundFilesTest, EveryManifestOfAFolderIsBoundAsRenderedWithTheParams) {
  dir_.Write("k8s/web.yaml", "image: web:{{ params.v }}\nsecret: {{ secrets.t }}\n");
  dir_.Write("k8s/db.json", "{}");
  dir_.Write("k8s/README.md", "not a manifest");
  const std::string kubeconfig = dir_.Write("kubeconfig", "apiVersion: v1\nkind: Config\n");
  BoundInputs bound = Collect(R"(runbook: b
params:
  v: {default: "1.0"}
secrets:
  t: {env: TOKEN}
targets:
  cluster: {kubeconfig: ./kubeconfig}
steps:
  - id: apply
    kubectl: {target: cluster, apply: k8s}
    rollback: auto
)",
                              {"v=2.0"});
  EXPECT_TRUE(bound.errors.empty()) << bound.errors[0];
  EXPECT_THAT(Listed(bound), ElementsAre("k8s/db.json manifest", "k8s/web.yaml manifest"));
  // Rendered as the runner renders it, except what is known only during the run.
  EXPECT_EQ(bound.files[1].sha256, Sha256Hex("image: web:2.0\nsecret: {{ secrets.t }}\n"));
}

TEST_F(BoundFilesTest, AManifestPathKnownOnlyDuringTheRunIsNotedNotBound) {
  dir_.Write("kubeconfig", "apiVersion: v1\nkind: Config\n");
  BoundInputs bound = Collect(R"(runbook: b
targets:
  cluster: {kubeconfig: ./kubeconfig}
steps:
  - id: render
    shell: "echo out"
    outputs: {dir: stdout}
  - id: dynamic
    kubectl: {target: cluster, apply: "{{ steps.render.outputs.dir }}"}
)");
  EXPECT_TRUE(bound.files.empty());
  EXPECT_TRUE(bound.errors.empty());
  ASSERT_EQ(bound.unbound.size(), 1u);
  EXPECT_THAT(bound.unbound[0], HasSubstr("step dynamic applies the manifests at"));
  EXPECT_THAT(bound.unbound[0], HasSubstr("known only during the run"));
}

TEST_F(BoundFilesTest, AFileASecretIsReadFromIsNeverListed) {
  dir_.Write("token", "s3cret\n");
  dir_.Write("deploy.sh", "true\n");
  BoundInputs bound = Collect(R"(runbook: b
inputs: [token]
secrets:
  t: {file: ./token}
steps:
  - id: go
    shell: "sh deploy.sh token"
)");
  EXPECT_THAT(Listed(bound), ElementsAre("deploy.sh command"));
}

TEST_F(BoundFilesTest, AFileThatCannotBeReadIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  const std::string path = dir_.Write("locked.sh", "true\n");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  BoundInputs bound = Collect("runbook: b\nsteps:\n  - id: go\n    shell: \"sh locked.sh\"\n");
  ASSERT_EQ(bound.errors.size(), 1u);
  EXPECT_THAT(bound.errors[0], HasSubstr("step go names locked.sh: cannot read"));
}

TEST(BoundFileChanges, NamesChangedAppearedAndVanishedFiles) {
  const std::string a(64, 'a'), b(64, 'b');
  std::vector<BoundFile> planned = {{"config/db.conf", "input", a},
                                    {"scripts/deploy.sh", "command", a},
                                    {"scripts/old.sh", "command", a}};
  std::vector<BoundFile> now = {{"config/db.conf", "input", a},
                                {"config/new.conf", "input", b},
                                {"scripts/deploy.sh", "command", b}};
  EXPECT_THAT(BoundFileChanges(planned, now),
              ElementsAre("config/new.conf appeared (sha256 bbbbbbbbbbbb…)",
                          "scripts/deploy.sh changed (sha256 aaaaaaaaaaaa… → bbbbbbbbbbbb…)",
                          "scripts/old.sh is gone (was sha256 aaaaaaaaaaaa…)"));
  EXPECT_TRUE(BoundFileChanges(planned, planned).empty());
  // One path in two uses is named with each.
  EXPECT_THAT(BoundFileChanges({{"x.yaml", "manifest", a}, {"x.yaml", "command", a}},
                               {{"x.yaml", "manifest", b}, {"x.yaml", "command", a}}),
              ElementsAre("x.yaml (manifest) changed (sha256 aaaaaaaaaaaa… → bbbbbbbbbbbb…)"));

  PlanRecord plan;
  plan.plan_id = "plan-1";
  EXPECT_EQ(ChangedFilesRefusal(plan, "rb.yaml", {"scripts/deploy.sh changed (sha256 a… → b…)"}),
            "scripts/deploy.sh changed since plan plan-1 was made (sha256 a… → b…); put it back "
            "as it was planned, or make a new plan with `runbook plan rb.yaml ...` and have it "
            "approved");
  EXPECT_THAT(ChangedFilesRefusal(plan, "rb.yaml", {"x.conf appeared (sha256 b…)"}),
              HasSubstr("x.conf appeared since plan plan-1 was made (sha256 b…); remove it, or"));
  EXPECT_THAT(ChangedFilesRefusal(plan, "rb.yaml", BoundFileChanges(planned, now)),
              HasSubstr("3 files bound by plan plan-1 differ from when it was made:\n  "
                        "config/new.conf appeared"));
}

TEST(PlanHash, CoversTheBoundFilesInAnyOrderAndIsUnchangedWithoutThem) {
  Runbook rb;
  rb.text = "runbook: x\nsteps: []\n";
  const std::map<std::string, std::string> params = {{"v", "1"}};
  const std::string a(64, 'a'), b(64, 'b');
  const std::string none = PlanHash(rb, params, {});
  const std::string one = PlanHash(rb, params, {{"x.sh", "command", a}});
  EXPECT_NE(none, one);
  EXPECT_NE(one, PlanHash(rb, params, {{"x.sh", "command", b}}));
  EXPECT_NE(one, PlanHash(rb, params, {{"y.sh", "command", a}}));
  EXPECT_EQ(PlanHash(rb, params, {{"x.sh", "command", a}, {"y.sh", "input", b}}),
            PlanHash(rb, params, {{"y.sh", "input", b}, {"x.sh", "command", a}}));
  // A runbook that binds no file keeps the hash plans had before files were bound.
  nlohmann::json canonical;
  canonical["runbook"] = {{"runbook", "x"}, {"steps", nlohmann::json::array()}};
  canonical["params"] = params;
  EXPECT_EQ(none, Sha256Hex(canonical.dump()));
}

// ---------------------------------------------------------------- plans and runs

// The plan and run services over a scratch audit database, for the refusals of `run --plan`.
class BoundPlanTest : public BoundFilesTest {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    plans_ = std::make_unique<PlanService>(*store_, signer_, env_);
    runs_ = std::make_unique<RunService>(*store_, signer_, env_);
  }

  // Loads `text` and makes a plan of it that alice approves; the plan's id.
  std::string ApprovedPlan(const std::string& text, const std::vector<std::string>& params = {}) {
    dir_.Write("rb.yaml", text);
    loaded_ = LoadRunbookWithParams(dir_ / "rb.yaml", params);
    EXPECT_TRUE(loaded_.ok()) << loaded_.error_summary << loaded_.status.message();
    auto made = plans_->Make(*loaded_.runbook, loaded_.params, "dave");
    EXPECT_TRUE(made.ok()) << made.message();
    if (!made.ok()) return "";
    document_ = made->document;
    EXPECT_TRUE(plans_->Approve({made->record.plan_id, "alice", "", ""}).ok());
    return made->record.plan_id;
  }

  // `run --plan` of the runbook as it is now: the gate's verdict.
  Status Check(const std::string& plan_id, const std::vector<std::string>& params = {}) {
    LoadedRunbook now = LoadRunbookWithParams(dir_ / "rb.yaml", params);
    EXPECT_TRUE(now.ok()) << now.error_summary;
    RunRequest request;
    request.runbook = std::move(now.runbook);
    request.params = now.params;
    request.file = dir_ / "rb.yaml";
    request.plan_id = plan_id;
    request.operator_name = "dave";
    start_ = runs_->Prepare(std::move(request));
    return start_.status;
  }

  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  std::unique_ptr<PlanService> plans_;
  std::unique_ptr<RunService> runs_;
  nlohmann::json document_;
  RunStart start_;
};

constexpr const char* kGated = "runbook: gated\napproval: {required: 1}\n";

TEST_F(BoundPlanTest, APlanListsItsFilesAndRefusesToBeMadeWhenAnInputIsMissing) {
  dir_.Write("scripts/migrate.sh", "echo migrating\n");
  dir_.Write("config/app.conf", "threads=4\n");
  ApprovedPlan(
      std::string(kGated) +
      "inputs: [config/app.conf]\nsteps:\n  - id: m\n    shell: \"sh scripts/migrate.sh\"\n");
  ASSERT_TRUE(document_["files"].is_array());
  ASSERT_EQ(document_["files"].size(), 2u);
  EXPECT_EQ(document_["files"][0]["path"], "config/app.conf");
  EXPECT_EQ(document_["files"][0]["sha256"], Sha256Hex("threads=4\n"));
  EXPECT_EQ(document_["files"][1]["path"], "scripts/migrate.sh");
  EXPECT_EQ(document_["files"][1]["use"], "command");

  dir_.Write("rb.yaml", std::string(kGated) +
                            "inputs: [\"config/*.yaml\"]\nsteps:\n"
                            "  - id: m\n    shell: \"true\"\n");
  LoadedRunbook bad = LoadRunbookWithParams(dir_ / "rb.yaml", {});
  ASSERT_TRUE(bad.ok());
  auto made = plans_->Make(*bad.runbook, bad.params, "dave");
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().kind(), StatusKind::kInvalid);
  EXPECT_THAT(made.message(), HasSubstr("inputs: 'config/*.yaml' matches no file"));
}

TEST_F(BoundPlanTest, AnEditedScriptIsRefusedByNameBeforeAnythingRuns) {
  dir_.Write("scripts/deploy.sh", "echo deployed >> log\n");
  const std::string pid = ApprovedPlan(std::string(kGated) +
                                           "params:\n  v: {required: true}\nsteps:\n  - id: go\n"
                                           "    shell: \"sh scripts/deploy.sh {{ params.v }}\"\n",
                                       {"v=1"});
  ASSERT_TRUE(Check(pid, {"v=1"}).ok()) << start_.status.message();
  start_ = {};
  dir_.Write("scripts/deploy.sh", "echo EVIL >> log\n");
  Status refused = Check(pid, {"v=1"});
  EXPECT_EQ(refused.kind(), StatusKind::kRefused);
  EXPECT_THAT(refused.message(),
              HasSubstr("scripts/deploy.sh changed since plan " + pid + " was made (sha256 " +
                        Sha256Hex("echo deployed >> log\n").substr(0, 12) + "… → " +
                        Sha256Hex("echo EVIL >> log\n").substr(0, 12) + "…)"));
  EXPECT_EQ(start_.run, nullptr);
  // Other params are still reported as such, and an edited runbook as edited.
  dir_.Write("scripts/deploy.sh", "echo deployed >> log\n");
  EXPECT_THAT(Check(pid, {"v=2"}).message(), HasSubstr("was approved for other params"));
  dir_.Write("rb.yaml", loaded_.runbook->text + "# edited\n  - id: more\n    shell: \"true\"\n");
  EXPECT_THAT(Check(pid, {"v=1"}).message(), HasSubstr("has changed since plan"));
}

TEST_F(BoundPlanTest, AnInputThatVanishedOrAppearedIsRefusedByName) {
  dir_.Write("config/app.conf", "threads=4\n");
  dir_.Write("config/db.conf", "pool=10\n");
  const std::string pid = ApprovedPlan(std::string(kGated) +
                                       "inputs: [\"config/*.conf\"]\n"
                                       "steps:\n  - id: go\n    shell: \"true\"\n");
  std::filesystem::remove(dir_ / "config/db.conf");
  Status gone = Check(pid);
  EXPECT_EQ(gone.kind(), StatusKind::kRefused);
  EXPECT_THAT(gone.message(), HasSubstr("config/db.conf is gone since plan " + pid));
  dir_.Write("config/db.conf", "pool=10\n");
  dir_.Write("config/extra.conf", "x=1\n");
  Status appeared = Check(pid);
  EXPECT_EQ(appeared.kind(), StatusKind::kRefused);
  EXPECT_THAT(appeared.message(), HasSubstr("config/extra.conf appeared since plan " + pid));
  // Every input gone: refused by name too, not as a runbook that does not validate.
  std::filesystem::remove_all(dir_ / "config");
  Status all = Check(pid);
  EXPECT_EQ(all.kind(), StatusKind::kRefused);
  EXPECT_THAT(all.message(), HasSubstr("2 files bound by plan " + pid));
  EXPECT_THAT(all.message(), HasSubstr("config/app.conf is gone"));
}

TEST_F(BoundPlanTest, AnEditedManifestIsRefusedByName) {
  dir_.Write("kubeconfig", "apiVersion: v1\nkind: Config\n");
  dir_.Write("manifests/web.yaml", "image: web:{{ params.v }}\n");
  const std::string pid =
      ApprovedPlan(std::string(kGated) +
                   "params:\n  v: {default: \"1.0\"}\n"
                   "targets:\n  cluster: {kubeconfig: ./kubeconfig}\n"
                   "steps:\n  - id: apply\n    kubectl: {target: cluster, apply: manifests}\n"
                   "    rollback: auto\n");
  dir_.Write("manifests/web.yaml", "image: evil:{{ params.v }}\n");
  Status refused = Check(pid);
  EXPECT_EQ(refused.kind(), StatusKind::kRefused);
  EXPECT_THAT(refused.message(), HasSubstr("manifests/web.yaml changed since plan " + pid));
  dir_.Write("manifests/web.yaml", "image: web:{{ params.v }}\n");
  dir_.Write("manifests/extra.json", "{}");
  EXPECT_THAT(Check(pid).message(), HasSubstr("manifests/extra.json appeared since plan"));
}

TEST_F(BoundPlanTest, RunStartedRecordsTheFilesUsedWithAndWithoutAPlan) {
  dir_.Write("scripts/go.sh", "true\n");
  const std::string text = "runbook: free\nsteps:\n  - id: go\n    shell: \"sh scripts/go.sh\"\n";
  dir_.Write("rb.yaml", text);
  for (const std::string& plan_id : {std::string(), ApprovedPlan(text)}) {
    ASSERT_TRUE(Check(plan_id).ok()) << start_.status.message();
    runbook::testing::SilentReporter reporter;
    CancelFlag interrupt, hard_stop;
    RunResult result = runs_->Execute(*start_.run, reporter, {&interrupt, &hard_stop});
    ASSERT_EQ(result.summary.state, "succeeded") << result.summary.error;
    auto events = store_->events().Events(result.summary.run_id);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ((*events)[0].event, "run_started");
    const RunStartedDetail started = (*events)[0].detail.get<RunStartedDetail>();
    EXPECT_EQ(started.plan_id, plan_id);
    ASSERT_EQ(started.files.size(), 1u);
    EXPECT_EQ(started.files[0], (BoundFile{"scripts/go.sh", "command", Sha256Hex("true\n")}));
    start_ = {};
  }
}

}  // namespace
}  // namespace runbook
