#include "app/postmortem_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "app/report_timeline.h"
#include "app/signer.h"
#include "app/templates.h"
#include "audit/audit_database.h"
#include "audit/audit_test_util.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::MakeRun;
using audit_test::TempDir;

// Writes events through a real store and reads the run back as `runbook report` does.
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = AuditDatabase::Open(dir_.File("audit.db"));
    ASSERT_TRUE(opened.ok()) << opened.message();
    db_ = std::move(opened.value());
    store_ = &db_->events();
  }

  void Begin(RunRecord run) {
    run_id_ = run.run_id;
    ASSERT_TRUE(store_->BeginRun(run).ok());
  }

  void Add(long long ms, const std::string& event, const std::string& phase,
           const std::string& step, int attempt = 0,
           nlohmann::json detail = nlohmann::json::object(), const std::string& from = "",
           const std::string& to = "") {
    AuditEvent e;
    e.ts = At(ms);
    e.event = ParseEventKind(event).value();
    e.phase = phase;
    e.step = step;
    e.attempt = attempt;
    e.detail = std::move(detail);
    e.from = from;
    e.to = to;
    ASSERT_TRUE(store_->Append(run_id_, e).ok());
  }

  // A whole step: started, its attempts (true = succeeded), finished.
  void Step(long long ms, const std::string& phase, const std::string& id,
            const std::vector<std::pair<long long, bool>>& attempts, nlohmann::json started = {},
            nlohmann::json last_output = nlohmann::json::object()) {
    const bool rollback = phase == "rollback";
    nlohmann::json sd = {{"name", id}, {"description", "echo " + id}};
    if (started.is_object()) sd.update(started);
    Add(ms, rollback ? "rollback_started" : "step_started", phase, id, 0, sd);
    long long t = ms;
    int n = 0;
    bool ok = false;
    for (const auto& [took, success] : attempts) {
      ++n;
      Add(t, "attempt_started", phase, id, n);
      t += took;
      ok = success;
      nlohmann::json d = {{"outcome", ok ? "succeeded" : "failed"},
                          {"exit_status", ok ? 0 : 1},
                          {"duration_ms", took}};
      if (!ok) d["error"] = "exit status 1";
      if (n == static_cast<int>(attempts.size())) d.update(last_output);
      Add(t, "attempt_finished", phase, id, n, d);
    }
    nlohmann::json done = {{"attempts", n}, {"duration_ms", t - ms}, {"exit_status", ok ? 0 : 1}};
    if (!ok) done["error"] = "exit status 1";
    Add(t,
        rollback ? (ok ? "rollback_succeeded" : "rollback_failed")
                 : (ok ? "step_succeeded" : "step_failed"),
        phase, id, n, done);
  }

  void End(long long ms, const std::string& state, int exit_code) {
    Add(ms, "run_finished", "run", "", 0, {{"state", state}, {"exit_code", exit_code}}, "", state);
    ASSERT_TRUE(store_->EndRun(run_id_, state, exit_code, std::chrono::system_clock::now()).ok());
  }

  std::string Render(const RunChangeRequest* change_request = nullptr) {
    auto run = store_->GetRun(run_id_);
    EXPECT_TRUE(run.ok()) << run.message();
    auto events = store_->Events(run_id_);
    EXPECT_TRUE(events.ok()) << events.message();
    run_ = *run;
    events_ = *events;
    auto html = RenderPostmortemHtml(run_, events_, {}, change_request);
    EXPECT_TRUE(html.ok()) << html.message();
    return html.ok() ? *html : "";
  }

  TempDir dir_;
  std::unique_ptr<AuditDatabase> db_;
  EventLog* store_ = nullptr;
  std::string run_id_;
  StoredRun run_;
  std::vector<StoredEvent> events_;
};

TEST(ReportTemplateTest, CompiledCopyMatchesTheTemplateFile) {
  std::ifstream in(std::string(RUNBOOK_SOURCE_DIR) + "/templates/postmortem.html",
                   std::ios::binary);
  ASSERT_TRUE(in) << "templates/postmortem.html is missing";
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_TRUE(file.str() == kPostmortemTemplate)
      << "the compiled template differs from templates/postmortem.html: re-run cmake";
}

TEST(ReportTemplateTest, TemplateIsSelfContained) {
  const std::string t(kPostmortemTemplate);
  EXPECT_EQ(t.find("<script"), std::string::npos);
  EXPECT_EQ(t.find("<link"), std::string::npos);
  EXPECT_EQ(t.find("src="), std::string::npos);
  EXPECT_EQ(t.find("@import"), std::string::npos);
  EXPECT_EQ(t.find("url(http"), std::string::npos);
  EXPECT_NE(t.find("<style>"), std::string::npos);
}

TEST_F(ReportTest, ShowsHeaderSummaryTimelineEventsAndRunbook) {
  RunRecord run = MakeRun("20261123T150405Z-abc123", "web-release");
  run.plan_id = "plan-1234abcd-0000";
  run.runbook_text = "runbook: web-release\nsteps:\n  - id: migrate\n";
  Begin(run);
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(10, "precheck", "disk", {{40, true}});
  Step(100, "step", "migrate", {{500, true}});
  Step(600, "step", "switch", {{200, false}, {300, false}}, {{"name", "Point current at it"}},
       {{"stderr", "ln: permission denied\n"}});
  Step(1200, "rollback", "switch-rollback", {{100, true}}, {{"undoes", "switch"}});
  Step(1300, "rollback", "migrate-rollback", {{150, false}}, {{"undoes", "migrate"}});
  End(1500, "rollback_failed", 3);

  const std::string html = Render();
  // Header.
  for (const char* want :
       {"web-release", "20261123T150405Z-abc123", "alice", "build-1", "2026-11-23T15:04:05.000Z",
        "1.500s", "rollback_failed", "plan-1234abcd-0000", "production/web-release"}) {
    EXPECT_NE(html.find(want), std::string::npos) << want;
  }
  EXPECT_NE(html.find("<td>3</td>"), std::string::npos) << "exit code";
  // Summary: what failed, what was rolled back.
  EXPECT_NE(html.find("step <code>switch</code></strong> (Point current at it) failed after 2 "
                      "attempts"),
            std::string::npos);
  EXPECT_NE(html.find("ln: permission denied"), std::string::npos);
  EXPECT_NE(html.find("undo <code>switch</code> (<code>echo switch-rollback</code>): succeeded"),
            std::string::npos);
  EXPECT_NE(html.find("undo <code>migrate</code> (<code>echo migrate-rollback</code>): FAILED"),
            std::string::npos);
  EXPECT_NE(html.find("a person must check it"), std::string::npos);
  // Timeline: an SVG with one bar per attempt and rollback action, each labelled.
  EXPECT_NE(html.find("<svg"), std::string::npos);
  std::regex bar("<g class=\"bar ");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(html.begin(), html.end(), bar), std::sregex_iterator()),
      6);
  for (const char* label :
       {">disk<", ">migrate<", ">switch<", ">switch #2<", ">undo switch<", ">undo migrate<"}) {
    EXPECT_NE(html.find(label), std::string::npos) << label;
  }
  // Event table: every event, by seq.
  for (const StoredEvent& e : events_) {
    EXPECT_NE(html.find("<td class=\"num\">" + std::to_string(e.seq) + "</td>"), std::string::npos)
        << e.seq;
  }
  // The recorded runbook text, and no placeholder left unfilled.
  EXPECT_NE(html.find("<pre>runbook: web-release\nsteps:\n  - id: migrate\n</pre>"),
            std::string::npos);
  EXPECT_EQ(html.find("{{"), std::string::npos);
}

TEST_F(ReportTest, EscapesEverythingTakenFromTheLog) {
  RunRecord run = MakeRun("r-hostile", "web");
  run.operator_name = "<b>eve</b>";
  run.params = {{"version", "\"><script>alert('p')</script>"}};
  run.runbook_text = "runbook: web\n# </pre><script>alert('text')</script>\n";
  Begin(run);
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(10, "step", "deploy", {{100, false}}, {{"description", "<img src=x onerror=alert(1)>"}},
       {{"stdout", "<script>alert(1)</script>\n"}, {"stderr", "\x1b[31mred\x1b[0m & </pre>"}});
  End(200, "rolled_back", 1);

  const std::string html = Render();
  EXPECT_EQ(html.find("<script"), std::string::npos) << html;
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>eve"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;eve&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/pre&gt;&lt;script&gt;alert(&#39;text&#39;)"), std::string::npos);
  EXPECT_NE(html.find("\xe2\x90\x9b[31mred"), std::string::npos) << "ESC as a control picture";
  // The only <pre> closings are the ones the report itself writes.
  EXPECT_EQ(html.find("</pre><script"), std::string::npos);
}

TEST_F(ReportTest, SucceededRunSaysNothingWasRolledBack) {
  Begin(MakeRun("r-ok", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(5, "step", "one", {{20, true}});
  Step(30, "verify", "health", {{10, false}, {10, true}});
  End(60, "succeeded", 0);
  const std::string html = Render();
  EXPECT_NE(html.find("The run succeeded.</strong> 1 step(s) and 1 check(s) passed; nothing was "
                      "rolled back."),
            std::string::npos);
  EXPECT_EQ(html.find("What failed"), std::string::npos);
  EXPECT_NE(html.find("state-succeeded"), std::string::npos);
}

// A host failing within max_fail: listed with its fate, and one row per host of each ssh
// step and rollback action, skipped hosts too.
TEST_F(ReportTest, ShowsEachHostOfSshStepsAndTheFailedHosts) {
  Begin(MakeRun("r-ssh", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Add(1, "step_started", "step", "flip", 0, {{"name", "flip"}, {"action", "ssh"}});
  Add(2, "attempt_started", "step", "flip", 1);
  Add(3, "host_finished", "step", "flip", 1,
      {{"host", "web1"}, {"exit_status", 0}, {"duration_ms", 12}, {"ok", true}});
  Add(4, "host_finished", "step", "flip", 1,
      {{"host", "web2<b>"},
       {"exit_status", 3},
       {"error", "exit status 3"},
       {"ok", false},
       {"reached", true}});
  Add(5, "attempt_finished", "step", "flip", 1, {{"outcome", "succeeded"}, {"exit_status", 0}});
  Add(6, "host_failed", "step", "flip", 0,
      {{"host", "web2<b>"}, {"error", "exit status 3"}, {"exit_status", 3}, {"reached", true}});
  Add(7, "rollback_started", "rollback", "flip-rb", 0,
      {{"undoes", "flip"}, {"only_hosts", {"web2<b>"}}});
  Add(8, "attempt_started", "rollback", "flip-rb", 1);
  Add(9, "host_finished", "rollback", "flip-rb", 1,
      {{"host", "web2<b>"}, {"exit_status", 0}, {"ok", true}});
  Add(10, "rollback_succeeded", "rollback", "flip-rb", 1);
  Add(11, "step_succeeded", "step", "flip", 1);
  Add(12, "host_skipped", "step", "after", 0,
      {{"host", "web2<b>"}, {"reason", "left out: it failed in step flip"}});
  Add(13, "step_started", "step", "after");
  Add(14, "attempt_started", "step", "after", 1);
  Add(15, "host_finished", "step", "after", 1, {{"host", "web1"}, {"exit_status", 0}});
  Add(16, "step_succeeded", "step", "after", 1);
  End(20, "succeeded", 0);
  const std::string html = Render();
  EXPECT_NE(html.find("<h2>Hosts</h2>"), std::string::npos);
  EXPECT_NE(html.find("<li><strong><code>web2&lt;b&gt;</code></strong> failed in step "
                      "<code>flip</code>: <code>exit status 3</code> (within max_fail"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("; rolled back there</li>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"mono\">web1</td><td>ok</td><td class=\"num\">0</td><td "
                      "class=\"num\">12ms</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr class=\"bad\"><td class=\"mono\">web2&lt;b&gt;</td><td>failed</td>"),
            std::string::npos);
  EXPECT_NE(html.find("run at once on the host(s) that failed"), std::string::npos);
  EXPECT_NE(html.find("<td>skipped</td><td class=\"num\"></td><td class=\"num\"></td><td><code>"
                      "left out: it failed in step flip</code>"),
            std::string::npos);
  // The event table has the host column.
  EXPECT_NE(html.find("<th scope=\"col\">host</th><th scope=\"col\">event</th>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"mono\">web2&lt;b&gt;</td><td>host_failed</td>"),
            std::string::npos);
}

TEST_F(ReportTest, ARunWithoutSshHasNoHostsSection) {
  Begin(MakeRun("r-local", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(5, "step", "one", {{20, true}});
  End(60, "succeeded", 0);
  EXPECT_EQ(Render().find("<h2>Hosts</h2>"), std::string::npos);
}

TEST_F(ReportTest, UnfinishedRunShowsTheOpenAttemptUpToTheLastEvent) {
  Begin(MakeRun("r-crash", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(0, "step", "one", {{100, true}});
  Add(200, "step_started", "step", "two", 0, {{"name", "two"}});
  Add(250, "attempt_started", "step", "two", 1);
  Add(900, "process_started", "step", "two", 1, {{"pid", 123}, {"pgid", 123}});
  const std::string html = Render();
  EXPECT_NE(html.find("The run has no terminal state"), std::string::npos);
  EXPECT_NE(html.find("runbook recover"), std::string::npos);
  EXPECT_NE(html.find("not finished"), std::string::npos);

  std::vector<TimelineBar> bars = TimelineBars(run_, events_);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[1].step, "two");
  EXPECT_EQ(bars[1].outcome, "unfinished");
  EXPECT_EQ(bars[1].start_ms, 250);
  EXPECT_EQ(bars[1].end_ms, 900);
  EXPECT_NE(html.find("outcome-unfinished"), std::string::npos);
}

TEST_F(ReportTest, TimelineBarsFollowAttemptsAndRollbacks) {
  Begin(MakeRun("r-bars", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(0, "step", "a", {{100, false}, {50, true}});
  Step(200, "step", "b", {{10, false}});
  Step(300, "rollback", "b-undo", {{20, true}}, {{"undoes", "b"}});
  Step(330, "rollback", "global-1", {{5, true}});
  // A rollback action whose start could not even be recorded as an attempt.
  Add(400, "rollback_started", "rollback", "a-undo", 0, {{"undoes", "a"}});
  Add(410, "rollback_failed", "rollback", "a-undo", 0, {{"error", "not started"}});
  End(420, "rollback_failed", 3);
  Render();
  std::vector<TimelineBar> bars = TimelineBars(run_, events_);
  ASSERT_EQ(bars.size(), 6u);
  EXPECT_EQ(bars[0].label, "a");
  EXPECT_EQ(bars[0].outcome, "failed");
  EXPECT_EQ(bars[0].error, "exit status 1");
  EXPECT_EQ(bars[0].end_ms, 100);
  EXPECT_EQ(bars[1].label, "a #2");
  EXPECT_EQ(bars[1].outcome, "succeeded");
  EXPECT_EQ(bars[1].start_ms, 100);
  EXPECT_EQ(bars[1].end_ms, 150);
  EXPECT_EQ(bars[2].label, "b");
  EXPECT_EQ(bars[3].label, "undo b");
  EXPECT_EQ(bars[3].phase, "rollback");
  EXPECT_EQ(bars[4].label, "global-1");
  EXPECT_EQ(bars[5].label, "undo a");
  EXPECT_EQ(bars[5].attempt, 0);
  EXPECT_EQ(bars[5].outcome, "failed");
  EXPECT_EQ(bars[5].start_ms, 400);
  EXPECT_EQ(bars[5].end_ms, 410);
}

TEST(TimelineSvgTest, DrawsAxisAndEmptyRuns) {
  const std::string empty = TimelineSvg({}, 0);
  EXPECT_EQ(empty.rfind("<svg", 0), 0u);
  EXPECT_NE(empty.find("no step ran"), std::string::npos);
  TimelineBar bar;
  bar.phase = "step";
  bar.step = bar.label = "x";
  bar.start_ms = 0;
  bar.end_ms = 65000;
  bar.outcome = "succeeded";
  const std::string svg = TimelineSvg({bar}, 65000);
  EXPECT_NE(svg.find(">1m<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">0s<"), std::string::npos);
  EXPECT_NE(svg.find("1m05s"), std::string::npos) << "duration note";
}

TEST(ReportTemplateTest, RendersARunWithoutEvents) {
  StoredRun run;
  run.run_id = "r";
  run.started_at = "2026-11-23T15:04:05.000Z";
  auto rendered = RenderPostmortemHtml(run, {});
  ASSERT_TRUE(rendered.ok()) << rendered.message();
  const std::string& html = *rendered;
  EXPECT_EQ(html.find("{{"), std::string::npos);
  EXPECT_NE(html.find("no events recorded"), std::string::npos);
  EXPECT_NE(html.find("no step ran"), std::string::npos);
}

// ----------------------------------------------------------------------------- issue 13 sections

// Verifies the signature "good" only: stands for ssh-keygen, which these tests do not need.
class FakeVerifier : public Signer {
 public:
  Result<std::string> Sign(const std::string&, const std::string&) override {
    return std::string("good");
  }
  Status Verify(const std::string&, const std::string&, const std::string&,
                const std::string& signature) override {
    return signature == "good" ? Status::Ok() : Status::Invalid("Could not verify signature");
  }
};

// The `<tag ...>` openings of `html` in order, as tag names.
std::vector<std::string> Headings(const std::string& html) {
  std::vector<std::string> out;
  std::regex heading("<(h[1-6])[ >]");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), heading);
       it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST_F(ReportTest, ChangeRequestShowsThePlanRequesterApprovalsAndChecklist) {
  const std::string signers = dir_.File("allowed_signers");
  std::ofstream(signers) << "bob ssh-ed25519 AAAA\n";
  const std::string text =
      "runbook: web\nenvironment: production\nchecklist: [backup-verified]\n"
      "approval:\n  required: 1\n  allowed_signers: " +
      signers + "\nsteps:\n  - id: a\n    shell: \"true\"\n";
  PlanRecord plan;
  plan.plan_id = "plan-0123abcd";
  plan.hash = std::string(64, 'b');
  plan.runbook = "web";
  plan.runbook_path = dir_.File("web.yaml");
  plan.runbook_text = text;
  plan.requested_by = "carol";
  plan.created_at = "2026-11-23T14:00:00.000Z";
  ASSERT_TRUE(db_->plans().SavePlan(plan).ok());
  for (const auto& [who, signature, at] :
       {std::tuple{"bob", "good", "2026-11-23T14:10:00.000Z"},
        std::tuple{"mallory", "forged", "2026-11-23T14:20:00.000Z"},
        std::tuple{"dave", "", "2026-11-23T14:30:00.000Z"}}) {
    ApprovalRecord a{plan.plan_id, who, "approve", "looks fine", signature, at};
    ASSERT_TRUE(db_->plans().AddApproval(a).ok());
  }
  RunRecord run = MakeRun("r-plan", "web");
  run.plan_id = plan.plan_id;
  run.runbook_text = text;
  run.runbook_path = plan.runbook_path;
  Begin(run);
  Add(0, "run_started", "run", "", 0,
      {{"plan_id", plan.plan_id},
       {"checklist", {{{"item", "backup-verified"}, {"confirmed_by", "alice"}}}}},
      "", "pending");
  Step(5, "step", "a", {{10, true}});
  End(20, "succeeded", 0);

  FakeVerifier verifier;
  auto stored = store_->GetRun(run_id_);
  ASSERT_TRUE(stored.ok());
  const RunChangeRequest cr = ReadRunChangeRequest(db_->plans(), *stored, &verifier);
  EXPECT_TRUE(cr.problem.empty()) << cr.problem;
  const std::string html = Render(&cr);
  EXPECT_NE(html.find("<h2>Change request</h2>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"mono\">plan-0123abcd</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<th scope=\"row\">Requested by</th><td>carol</td>"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"ok-text\">yes</span> (1 approval(s) required)"),
            std::string::npos);
  EXPECT_NE(html.find("<td>bob</td><td>approve</td><td class=\"mono\">2026-11-23T14:10:00.000Z"
                      "</td><td>verified against " +
                      signers + "</td><td>yes</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<tr class=\"bad\"><td>mallory</td><td>approve</td><td "
                      "class=\"mono\">2026-11-23T14:20:00.000Z</td><td>signature does NOT "
                      "verify: Could not verify signature</td><td>no</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>dave</td><td>approve</td><td class=\"mono\">2026-11-23T14:30:00.000Z"
                      "</td><td>NOT signed, and the runbook requires signed approvals</td>"),
            std::string::npos);
  EXPECT_NE(html.find("Not counted: dave&#39;s approval is not signed"), std::string::npos);
  // The checklist as confirmed at `run`, from run_started.
  EXPECT_NE(html.find("<tr><td class=\"mono\">backup-verified</td><td>alice</td><td "
                      "class=\"mono\">2026-11-23T15:04:05.000Z</td></tr>"),
            std::string::npos);
}

TEST_F(ReportTest, ARunWithoutAPlanSaysSo) {
  Begin(MakeRun("r-noplan", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  End(5, "succeeded", 0);
  const std::string html = Render();
  EXPECT_NE(html.find("The run was made without a plan"), std::string::npos);
  EXPECT_NE(html.find("The run confirmed no checklist items."), std::string::npos);
}

TEST_F(ReportTest, ImpactAndTimeToRestoreAgainstTheDeclaredRollbackTime) {
  RunRecord run = MakeRun("r-ttr", "web");
  run.runbook_text =
      "runbook: web\npurpose: Ship 1.2.3 (T-9)\n"
      "impact: {downtime: none expected, rollback_time: 1s, dependencies: billing-db}\n"
      "steps:\n  - id: a\n    shell: \"true\"\n";
  Begin(run);
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(10, "step", "migrate", {{90, false}});  // fails at +100ms
  Step(200, "rollback", "migrate-rb", {{1200, true}}, {{"undoes", "migrate"}},
       {{"stdout", "restored table invoices\n"}});
  End(1500, "rolled_back", 1);
  const std::string html = Render();
  EXPECT_NE(html.find("<strong>Purpose:</strong> Ship 1.2.3 (T-9)"), std::string::npos) << html;
  EXPECT_NE(html.find("<th scope=\"row\">Downtime</th><td>none expected</td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">Dependencies</th><td>billing-db</td>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Time to restore</h2>"), std::string::npos);
  EXPECT_NE(html.find("+100ms</span> step migrate: exit status 1"), std::string::npos);
  EXPECT_NE(html.find("<strong>1.300s</strong> (first failure to the end of the rollback)"),
            std::string::npos);
  EXPECT_NE(html.find("1s (the runbook&#39;s impact.rollback_time): <span class=\"bad-text\">over "
                      "target by 300ms</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>1.200s</td>"), std::string::npos) << "the rollback took";
  // Every rollback action with what it printed.
  EXPECT_NE(html.find("undo <code>migrate</code> (<code>echo migrate-rb</code>): succeeded in "
                      "1.200s<br><span class=\"muted\">stdout:</span><pre>restored table "
                      "invoices</pre>"),
            std::string::npos);
}

TEST_F(ReportTest, TimeToRestoreDefaultsToFiveMinutesAndSaysWhenNotRestored) {
  Begin(MakeRun("r-ttr-default", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(10, "step", "migrate", {{90, false}});
  Step(200, "rollback", "migrate-rb", {{100, false}}, {{"undoes", "migrate"}});
  End(400, "rollback_failed", 3);
  const std::string html = Render();
  EXPECT_NE(html.find("5m (the default: the runbook declares no impact.rollback_time): <span "
                      "class=\"bad-text\">not met: the system was not restored</span>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("not restored: a rollback action failed"), std::string::npos);
  EXPECT_NE(html.find("(printed nothing)"), std::string::npos);

  // A succeeded run has no such section.
  Begin(MakeRun("r-ok2", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  End(5, "succeeded", 0);
  EXPECT_EQ(Render().find("Time to restore"), std::string::npos);
}

// Each host of an ssh step with its output's last lines and whether the run's rollback undid
// it there.
TEST_F(ReportTest, HostRowsShowOutputTailAndWhetherEachHostWasRolledBack) {
  Begin(MakeRun("r-hosts", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Add(1, "step_started", "step", "flip", 0, {{"name", "flip"}, {"action", "ssh"}});
  Add(2, "attempt_started", "step", "flip", 1);
  for (const char* host : {"web1:22", "web2:22", "web3:22"})
    Add(3, "host_finished", "step", "flip", 1,
        {{"host", host},
         {"exit_status", 0},
         {"duration_ms", 40},
         {"ok", true},
         {"stdout_tail", std::string("line 1\nline 2\nflipped on ") + host + "\n"}});
  Add(5, "attempt_finished", "step", "flip", 1, {{"outcome", "succeeded"}, {"exit_status", 0}});
  Add(6, "step_succeeded", "step", "flip", 1);
  Step(10, "step", "check", {{10, false}});
  Add(30, "rollback_started", "rollback", "flip-rb", 0, {{"undoes", "flip"}});
  Add(31, "attempt_started", "rollback", "flip-rb", 1);
  Add(32, "host_finished", "rollback", "flip-rb", 1,
      {{"host", "web1:22"}, {"exit_status", 0}, {"ok", true}, {"stdout_tail", "unflipped\n"}});
  Add(33, "host_finished", "rollback", "flip-rb", 1,
      {{"host", "web2:22"},
       {"exit_status", 7},
       {"ok", false},
       {"error", "exit status 7"},
       {"stderr_tail", "cannot unflip\n"}});
  Add(34, "attempt_finished", "rollback", "flip-rb", 1,
      {{"outcome", "failed"}, {"exit_status", 7}, {"error", "exit status 7 on web2:22"}});
  Add(35, "rollback_failed", "rollback", "flip-rb", 1, {{"error", "exit status 7 on web2:22"}});
  End(40, "rollback_failed", 3);
  const std::string html = Render();
  EXPECT_NE(html.find("<th scope=\"col\">output (last lines)</th><th scope=\"col\">rolled "
                      "back</th>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"mono\">web1:22</td><td>ok</td><td class=\"num\">0</td><td "
                      "class=\"num\">40ms</td><td></td><td><pre>line 1\nline 2\nflipped on "
                      "web1:22</pre></td><td>rolled back</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("flipped on web2:22</pre></td><td>rollback FAILED</td>"), std::string::npos);
  EXPECT_NE(html.find("flipped on web3:22</pre></td><td>not rolled back</td>"), std::string::npos);
  // The rollback action's rows, and its output per host in the summary.
  EXPECT_NE(html.find("<td><code>exit status 7</code></td><td><pre>cannot unflip</pre></td>"),
            std::string::npos);
  EXPECT_NE(html.find("on <code>web2:22</code> (failed):</span><pre>cannot unflip</pre>"),
            std::string::npos);
}

TEST_F(ReportTest, KubectlStepsShowEachObjectsImagesBeforeAndAfter) {
  Begin(MakeRun("r-kube", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Add(1, "step_started", "step", "rollout", 0, {{"name", "rollout"}, {"action", "kubectl"}});
  Add(2, "attempt_started", "step", "rollout", 1);
  Add(3, "kubectl_revisions", "step", "rollout", 1,
      {{"context", "prod"},
       {"objects",
        {{{"object", "deployment/web"},
          {"kind", "Deployment"},
          {"name", "web"},
          {"namespace", "shop"},
          {"exists", true},
          {"revision", 3},
          {"images_before", {{"web", "registry/web@sha256:1111"}}},
          {"images_after", {{"web", "registry/web:2.0"}}},
          {"rollback", "undo"}},
         {{"object", "configmap/web-env"},
          {"kind", "ConfigMap"},
          {"name", "web-env"},
          {"namespace", "shop"},
          {"exists", false},
          {"rollback", "delete"}}}}});
  Add(9, "attempt_finished", "step", "rollout", 1,
      {{"outcome", "failed"},
       {"error", "rollout of deployment/web did not finish"},
       {"rendered_manifests", {{{"path", "k8s/web.yaml"}, {"sha256", std::string(64, 'c')}}}}});
  Add(10, "step_failed", "step", "rollout", 1,
      {{"error", "rollout of deployment/web did not finish"}});
  Add(11, "rollback_started", "rollback", "rollout-rb", 0, {{"undoes", "rollout"}, {"auto", true}});
  Add(12, "attempt_started", "rollback", "rollout-rb", 1);
  Add(13, "kubectl_undo", "rollback", "rollout-rb", 1,
      {{"object", "configmap/web-env"}, {"namespace", "shop"}, {"action", "delete"}, {"ok", true}});
  Add(14, "kubectl_undo", "rollback", "rollout-rb", 1,
      {{"object", "deployment/web"},
       {"namespace", "shop"},
       {"action", "undo"},
       {"ok", true},
       {"to_revision", 5}});
  Add(15, "attempt_finished", "rollback", "rollout-rb", 1,
      {{"outcome", "succeeded"}, {"stdout", "deployment.apps/web rolled back\n"}});
  Add(16, "rollback_succeeded", "rollback", "rollout-rb", 1);
  End(20, "rolled_back", 1);
  const std::string html = Render();
  EXPECT_NE(html.find("<h2>Kubernetes objects</h2>"), std::string::npos);
  EXPECT_NE(html.find("<h3>step <code>rollout</code> <span class=\"muted\">(context prod)</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr class=\"undo\"><td class=\"mono\">deployment/web</td><td "
                      "class=\"mono\">shop</td><td class=\"num\">3</td><td "
                      "class=\"mono\">web: registry/web@sha256:1111<br></td><td "
                      "class=\"mono\">web: registry/web:2.0<br></td><td>rolled back (undo) to "
                      "revision 5</td><td class=\"mono\">web: registry/web@sha256:1111<br></td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<td class=\"mono\">did not exist<br></td><td class=\"mono\"></td><td>rolled "
                      "back (delete)</td><td class=\"mono\">deleted<br></td>"),
            std::string::npos);
  EXPECT_NE(
      html.find("<li><code>k8s/web.yaml</code> <span class=\"mono muted\">" + std::string(64, 'c')),
      std::string::npos);
  EXPECT_NE(html.find("<pre>deployment.apps/web rolled back</pre>"), std::string::npos);
}

// What a reader with a screen reader, or on paper, needs: a language, headings in order, a
// scope on every table header, a titled and described picture, print rules.
TEST_F(ReportTest, ReportIsAccessibleAndPrintable) {
  Begin(MakeRun("r-a11y", "web"));
  Add(0, "run_started", "run", "", 0, {}, "", "pending");
  Step(10, "step", "migrate", {{90, false}});
  Step(200, "rollback", "migrate-rb", {{100, true}}, {{"undoes", "migrate"}});
  End(400, "rolled_back", 1);
  const std::string html = Render();
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  const std::vector<std::string> headings = Headings(html);
  ASSERT_FALSE(headings.empty());
  EXPECT_EQ(headings.front(), "h1");
  EXPECT_EQ(std::count(headings.begin(), headings.end(), "h1"), 1);
  for (size_t i = 1; i < headings.size(); ++i)
    EXPECT_LE(headings[i][1] - headings[i - 1][1], 1) << "skipped a level at heading " << i;
  std::regex th("<th[ >]");
  std::regex scoped("<th scope=\"(row|col)\">");
  const auto count = [&html](const std::regex& r) {
    return std::distance(std::sregex_iterator(html.begin(), html.end(), r), std::sregex_iterator());
  };
  EXPECT_GT(count(th), 0);
  EXPECT_EQ(count(th), count(scoped)) << "every <th> has a scope";
  EXPECT_NE(html.find("<title id=\"rb-timeline-title\">"), std::string::npos);
  EXPECT_NE(html.find("<desc id=\"rb-timeline-desc\">2 bar(s) over"), std::string::npos);
  EXPECT_NE(html.find("1 failed.</desc>"), std::string::npos);
}

}  // namespace
}  // namespace runbook
