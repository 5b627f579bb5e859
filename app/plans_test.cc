#include "app/plans.h"

#include <gtest/gtest.h>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::FakeEnvironment;
using testing::FakeSigner;
using testing::WriteTextFile;

constexpr const char* kRunbook = R"(runbook: app-test
params:
  version: {default: "1.0.0"}
approval:
  required: 2
  approvers: [alice, bob, carol]
  expires: 1h
steps:
  - id: one
    shell: "true"
)";

class PlanServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    service_ = std::make_unique<PlanService>(*store_, signer_, env_);
  }

  // Loads `text` as a runbook file and makes a plan of it requested by `requester`.
  PlanRecord MakePlan(const std::string& text, const std::vector<std::string>& params = {},
                      const std::string& requester = "dave") {
    WriteTextFile(dir_ / "rb.yaml", text);
    loaded_ = LoadRunbookWithParams(dir_ / "rb.yaml", params);
    EXPECT_TRUE(loaded_.ok()) << loaded_.status.message();
    auto made = service_->Make(*loaded_.runbook, loaded_.params, requester);
    EXPECT_TRUE(made.ok()) << made.message();
    return made->record;
  }

  Status Approve(const std::string& plan_id, const std::string& who, const std::string& key = "") {
    auto r = service_->Approve({plan_id, who, "ok", key});
    return r.status();
  }

  runbook::testing::TempDir dir_{"app-plans"};
  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  std::unique_ptr<PlanService> service_;
  LoadedRunbook loaded_;
};

TEST_F(PlanServiceTest, NewPlanIsPendingUntilEnoughApproversAgree) {
  PlanRecord plan = MakePlan(kRunbook);
  EXPECT_EQ(plan.status, "pending");
  EXPECT_EQ(plan.requested_by, "dave");
  auto list = service_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].status(), "pending");

  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_EQ(gate.status().kind(), StatusKind::kRefused);
  EXPECT_NE(gate.message().find("1 of 2 approvals"), std::string::npos) << gate.message();
  EXPECT_NE(gate.message().find("bob or carol"), std::string::npos) << gate.message();

  auto second = service_->Approve({plan.plan_id, "bob", "", ""});
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_TRUE(second->approved);
  EXPECT_EQ(second->view.status(), "approved");
  gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  ASSERT_TRUE(gate.ok()) << gate.message();
  EXPECT_NE(gate->find("approved by alice, bob"), std::string::npos) << *gate;
}

TEST_F(PlanServiceTest, RequesterAndStrangersCannotApprove) {
  PlanRecord plan = MakePlan(kRunbook);
  Status own = Approve(plan.plan_id, "dave");
  EXPECT_EQ(own.kind(), StatusKind::kRefused);
  EXPECT_NE(own.message().find("cannot approve"), std::string::npos) << own.message();
  Status stranger = Approve(plan.plan_id, "mallory");
  EXPECT_EQ(stranger.kind(), StatusKind::kRefused);
  EXPECT_NE(stranger.message().find("not on the approvers list"), std::string::npos);
}

TEST_F(PlanServiceTest, AnApproverCountsOnce) {
  PlanRecord plan = MakePlan(kRunbook);
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  auto again = service_->Approve({plan.plan_id, "alice", "", ""});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_approved);
  EXPECT_FALSE(again->approved);
  EXPECT_EQ(again->view.tally.counted.size(), 1u);
}

TEST_F(PlanServiceTest, ApprovalsExpireWithTheClock) {
  PlanRecord plan = MakePlan(kRunbook);
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob").ok());
  ASSERT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "d").ok());
  env_.Advance(std::chrono::hours(2));
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "d");
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.message().find("has expired"), std::string::npos) << gate.message();
}

TEST_F(PlanServiceTest, OtherParamsOrAnEditedRunbookAreRefused) {
  PlanRecord plan = MakePlan(kRunbook, {"version=1.2.3"});
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob").ok());
  std::map<std::string, std::string> other = loaded_.params;
  other["version"] = "9.9.9";
  auto gate = service_->CheckApproved(*loaded_.runbook, other, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_EQ(gate.status().kind(), StatusKind::kRefused);
  EXPECT_NE(gate.message().find("planned '1.2.3', given '9.9.9'"), std::string::npos)
      << gate.message();

  WriteTextFile(dir_ / "rb.yaml", std::string(kRunbook) + "  - id: two\n    shell: \"true\"\n");
  LoadedRunbook edited = LoadRunbookWithParams(dir_ / "rb.yaml", {"version=1.2.3"});
  ASSERT_TRUE(edited.ok());
  gate = service_->CheckApproved(*edited.runbook, edited.params, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.message().find("has changed since plan"), std::string::npos) << gate.message();
}

TEST_F(PlanServiceTest, ASecretParamIsMaskedButStillBindsThePlan) {
  const std::string text = std::string(kRunbook).replace(
      std::string(kRunbook).find("params:\n") + 8, 0, "  pw: {required: true, secret: true}\n");
  PlanRecord plan = MakePlan(text, {"version=1.2.3", "pw=hunter2-plan"});
  EXPECT_EQ(plan.params["pw"], "***");
  EXPECT_EQ(plan.document.dump().find("hunter2-plan"), std::string::npos) << plan.document.dump();
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob").ok());
  EXPECT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave").ok());
  std::map<std::string, std::string> other = loaded_.params;
  other["pw"] = "another-secret";
  auto gate = service_->CheckApproved(*loaded_.runbook, other, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.message().find("`secret: true` param"), std::string::npos) << gate.message();
  EXPECT_EQ(gate.message().find("another-secret"), std::string::npos) << gate.message();
}

TEST_F(PlanServiceTest, NamesAreFoldedAndChecked) {
  PlanRecord plan = MakePlan(kRunbook, {}, " Dave\t");
  EXPECT_EQ(plan.requested_by, "dave");
  for (const char* self : {"dave", "DAVE", " dave "}) {
    Status s = Approve(plan.plan_id, self);
    EXPECT_EQ(s.kind(), StatusKind::kRefused) << self << ": " << s.message();
  }
  for (const char* bad : {"bob;rm", "-bob", "bo b", "", "bob/x"}) {
    Status s = Approve(plan.plan_id, bad);
    EXPECT_EQ(s.kind(), StatusKind::kInvalid) << bad << ": " << s.message();
  }
  ASSERT_TRUE(Approve(plan.plan_id, "Bob").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob ").ok());
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_NE(gate.message().find("1 of 2"), std::string::npos) << gate.message();
  ASSERT_TRUE(Approve(plan.plan_id, "ALICE").ok());
  EXPECT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave").ok());
  auto made = service_->Make(*loaded_.runbook, loaded_.params, "not a name");
  EXPECT_EQ(made.status().kind(), StatusKind::kInvalid);
}

TEST_F(PlanServiceTest, RoleRulesApplyByEnvironmentAndParam) {
  WriteTextFile(dir_ / "team.yaml", "pm: [Paula]\nbackend-lead: [bo, bea]\n");
  const std::string text = R"(runbook: roles
environment: production
params:
  api_change: {default: "no"}
approval:
  team: ./team.yaml
  required: 1
  rules:
    - {role: pm, required: 1, when: {environment: production}}
    - {role: backend-lead, when: {param: api_change, equals: "yes"}}
    - {role: backend-lead, required: 2, when: {environment: staging}}
steps:
  - id: one
    shell: "true"
)";
  PlanRecord plan = MakePlan(text, {"api_change=yes"});
  ASSERT_TRUE(Approve(plan.plan_id, "bo").ok());
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  ASSERT_FALSE(gate.ok());
  EXPECT_EQ(gate.status().kind(), StatusKind::kRefused);
  EXPECT_NE(gate.message().find("pm when environment is production: 0 of 1, paula can approve"),
            std::string::npos)
      << gate.message();
  EXPECT_EQ(gate.message().find("backend-lead when api_change"), std::string::npos)
      << "a met rule is not listed as unmet: " << gate.message();
  ASSERT_TRUE(Approve(plan.plan_id, "paula").ok());
  EXPECT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave").ok());

  auto view = service_->Show(plan.plan_id);
  ASSERT_TRUE(view.ok()) << view.message();
  const auto& rules = view->view.tally.rules;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_TRUE(rules[0].applies && rules[0].met());
  EXPECT_TRUE(rules[1].applies && rules[1].met());
  EXPECT_FALSE(rules[2].applies);
  EXPECT_EQ(rules[1].can_approve, std::vector<std::string>{"bea"});

  // With api_change=no the backend-lead rule does not apply: the pm alone is enough.
  PlanRecord other = MakePlan(text, {"api_change=no"});
  ASSERT_TRUE(Approve(other.plan_id, "PAULA").ok());
  EXPECT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, other.plan_id, "dave").ok());
}

TEST_F(PlanServiceTest, AnExecutedPlanIsUsedUp) {
  PlanRecord plan = MakePlan(kRunbook);
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob").ok());
  EXPECT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave").ok());
  ASSERT_TRUE(store_->plans().SetPlanStatus(plan.plan_id, kPlanExecuted).ok());
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  EXPECT_EQ(gate.status().kind(), StatusKind::kRefused);
  EXPECT_NE(gate.message().find("used up"), std::string::npos) << gate.message();
  EXPECT_EQ(Approve(plan.plan_id, "carol").kind(), StatusKind::kRefused);
  auto shown = service_->Show(plan.plan_id);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->view.status(), "executed");
}

TEST_F(PlanServiceTest, ARejectionBlocksThePlan) {
  PlanRecord plan = MakePlan(kRunbook);
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  auto rejected = service_->Reject(plan.plan_id, "carol", "wrong window");
  ASSERT_TRUE(rejected.ok()) << rejected.message();
  Status late = Approve(plan.plan_id, "bob");
  EXPECT_EQ(late.kind(), StatusKind::kRefused);
  EXPECT_NE(late.message().find("was rejected by carol"), std::string::npos) << late.message();
  auto gate = service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "dave");
  EXPECT_FALSE(gate.ok());
  EXPECT_EQ(service_->Reject(plan.plan_id, "mallory", "no").status().kind(),
            StatusKind::kRefused);
  EXPECT_EQ(service_->Reject(plan.plan_id, "carol", "").status().kind(), StatusKind::kInvalid);
}

TEST_F(PlanServiceTest, SignedApprovalsNeedAKeyThatVerifies) {
  WriteTextFile(dir_ / "allowed_signers", "alice ssh-ed25519 AAAA\n");
  std::string text = kRunbook;
  text.replace(text.find("  expires: 1h\n"), 13,
               "  allowed_signers: " + (dir_ / "allowed_signers") + "\n");
  PlanRecord plan = MakePlan(text);
  signer_.Trust("alice", "alice.key");
  signer_.Trust("bob", "bob.key");

  Status unsigned_approval = Approve(plan.plan_id, "alice");
  EXPECT_EQ(unsigned_approval.kind(), StatusKind::kRefused);
  EXPECT_NE(unsigned_approval.message().find("requires signed approvals"), std::string::npos);
  Status wrong_key = Approve(plan.plan_id, "alice", "bob.key");
  EXPECT_EQ(wrong_key.kind(), StatusKind::kRefused);
  EXPECT_NE(wrong_key.message().find("approval by alice refused"), std::string::npos);

  auto signed_ok = service_->Approve({plan.plan_id, "alice", "", "alice.key"});
  ASSERT_TRUE(signed_ok.ok()) << signed_ok.message();
  EXPECT_TRUE(signed_ok->signed_approval);
  ASSERT_TRUE(Approve(plan.plan_id, "bob", "bob.key").ok());
  const int verifies_before = signer_.verifies;
  ASSERT_TRUE(service_->CheckApproved(*loaded_.runbook, loaded_.params, plan.plan_id, "d").ok());
  EXPECT_GT(signer_.verifies, verifies_before) << "run --plan must check signatures again";
}

TEST_F(PlanServiceTest, UnknownPlansAreNotFoundOrRefused) {
  EXPECT_EQ(service_->Show("plan-nope").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(Approve("plan-nope", "alice").kind(), StatusKind::kRefused);
  MakePlan(kRunbook);
  EXPECT_EQ(service_->CheckApproved(*loaded_.runbook, loaded_.params, "plan-nope", "d")
                .status()
                .kind(),
            StatusKind::kRefused);
}

TEST_F(PlanServiceTest, ACacheLoadsEachPlansRunbookOnceAndStillCountsApprovalsAfresh) {
  PlanRunbookCache cache(2);
  PlanService cached(*store_, signer_, env_, &cache);
  PlanRecord plan = MakePlan(kRunbook);
  auto first = cached.List();
  ASSERT_TRUE(first.ok()) << first.message();
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE(first->front().runbook);
  EXPECT_EQ(first->front().status(), "pending");
  ASSERT_TRUE(Approve(plan.plan_id, "alice").ok());
  ASSERT_TRUE(Approve(plan.plan_id, "bob").ok());
  auto second = cached.List();
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ(second->front().runbook.get(), first->front().runbook.get());  // loaded once
  EXPECT_EQ(second->front().status(), "approved");  // the decisions are read again

  // Another text under the same id (a store edited by hand) is loaded again.
  PlanRecord edited = plan;
  edited.runbook_text += "# edited\n";
  auto reloaded = cache.Load(edited);
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  EXPECT_NE(reloaded->get(), first->front().runbook.get());
  // A text that no longer loads: its error, every time; the least recent dropped past two.
  PlanRecord broken = plan;
  broken.plan_id = "plan-broken";
  broken.runbook_text = "runbook: [";
  EXPECT_FALSE(cache.Load(broken).ok());
  EXPECT_FALSE(cache.Load(broken).ok());
  EXPECT_EQ(cache.size(), 2u);
  PlanRecord third = plan;
  third.plan_id = "plan-third";
  ASSERT_TRUE(cache.Load(third).ok());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Load(edited)->get(), reloaded->get());  // it was the least recent: dropped
}

TEST(PlanWordsTest, ShellWordQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(ShellWord("a/b.yaml"), "a/b.yaml");
  EXPECT_EQ(ShellWord("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellWord(""), "''");
}

}  // namespace
}  // namespace runbook
