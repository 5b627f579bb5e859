#include "app/postmortem_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "app/templates.h"
#include "app/report_timeline.h"
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

  std::string Render() {
    auto run = store_->GetRun(run_id_);
    EXPECT_TRUE(run.ok()) << run.message();
    auto events = store_->Events(run_id_);
    EXPECT_TRUE(events.ok()) << events.message();
    run_ = *run;
    events_ = *events;
    auto html = RenderPostmortemHtml(run_, events_);
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
  EXPECT_NE(html.find("<th>host</th><th>event</th>"), std::string::npos);
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

}  // namespace
}  // namespace runbook
