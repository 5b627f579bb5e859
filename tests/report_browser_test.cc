// The post-mortem report in a real browser: a real run of the built binary over ssh to a real
// sshd on loopback standing for three hosts, one of which fails a step, so that the run rolls
// back; its report is rendered by headless Chromium (Debian's `chromium`), and the test reads
// the DOM the browser built (--dump-dom), not the string we wrote: the timeline SVG, the
// failure and each host must be there. The screenshot (--screenshot) is kept as
// build/artifacts/postmortem.png for CI and for docs/postmortem.md.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "testing/sshd_fixture.h"
#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;

using runbook::testing::Quote;

// The Chromium binary on PATH, or "" (Debian calls it `chromium`).
std::string FindChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    int status = 0;
    std::string path = runbook::testing::ShOutput(std::string("command -v ") + name, &status);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (status == 0 && !path.empty()) return path;
  }
  return "";
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t Count(const std::string& text, const std::regex& pattern) {
  return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), pattern),
                                           std::sregex_iterator()));
}

// The inner text of the first element matching `open` (a regex for its start tag) up to
// `close`, as the browser serialised it.
std::string Element(const std::string& dom, const std::string& open, const std::string& close) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex(open))) return "";
  const size_t start = static_cast<size_t>(m.position(0));
  const size_t end = dom.find(close, start);
  return end == std::string::npos ? "" : dom.substr(start, end + close.size() - start);
}

class ReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("runbook-report-browser-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs Chromium headless on `url` with `flags`; its stdout, and its status in `*status`.
  std::string Chromium(const std::string& chromium, const std::string& flags,
                       const std::string& url, int* status) {
    const std::string cmd = "timeout 120 " + Quote(chromium) +
                            " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                            "--no-first-run --hide-scrollbars --user-data-dir=" +
                            Quote((dir_ / "chromium-profile").string()) + " " + flags + " " +
                            Quote(url) + " 2>" + Quote((dir_ / "chromium.err").string());
    return runbook::testing::ShOutput(cmd, status);
  }

  fs::path dir_;
};

TEST_F(ReportBrowserTest, ChromiumRendersTheReportOfAFailedSshRun) {
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty())
      << "chromium is not on PATH: this test renders the post-mortem report in headless "
         "Chromium; install Debian's `chromium` package (scripts/setup.sh does)";
  runbook::testing::TestSshd sshd(3);
  ASSERT_TRUE(sshd.ok()) << sshd.error();

  // deploy runs on the three hosts; activate fails on 127.0.0.2, so the run rolls back
  // activate (where it ran) and deploy.
  std::string hosts;
  for (const std::string& spec : sshd.specs) hosts += (hosts.empty() ? "" : ", ") + spec;
  const std::string me = "me=$(echo $SSH_CONNECTION | cut -d' ' -f3); ";
  std::ofstream(dir_ / "release.yaml")
      << "runbook: browser-release\n"
      << "purpose: Release 2.0 of the shop front (TICKET-13)\n"
      << "impact: {downtime: none expected, rollback_time: 2m}\n"
      << "targets:\n  web:\n    hosts: [" << hosts << "]\n    user: root\n"
      << "    identity_file: " << sshd.path("client") << "\n"
      << "    known_hosts: " << sshd.path("known_hosts") << "\n"
      << "steps:\n"
      << "  - id: deploy\n    ssh:\n      target: web\n      command: |\n"
      << "        " << me << "echo unpacked release 2.0 on $me\n"
      << "    rollback:\n      ssh:\n        target: web\n        command: |\n"
      << "          " << me << "echo removed release 2.0 from $me\n"
      << "  - id: activate\n    ssh:\n      target: web\n      command: |\n"
      << "        " << me << "echo activating on $me\n"
      << "        if [ $me = 127.0.0.2 ]; then echo 'disk full on '$me >&2; exit 4; fi\n"
      << "    rollback:\n      ssh:\n        target: web\n        command: |\n"
      << "          " << me << "echo deactivated on $me\n";
  runbook::testing::Output run = runbook::testing::RunRunbook(
      dir_, dir_ / "audit.db", "run release.yaml --json", dir_ / "run.err");
  ASSERT_EQ(run.code, 1) << run.text << ReadAll(dir_ / "run.err");
  const auto summary =
      nlohmann::json::parse(run.text.substr(run.text.rfind("\n{") + 1), nullptr, false);
  ASSERT_TRUE(summary.is_object()) << run.text;
  ASSERT_EQ(summary.value("state", ""), "rolled_back") << run.text;
  const std::string run_id = summary["run_id"];

  runbook::testing::Output report = runbook::testing::RunRunbook(
      dir_, dir_ / "audit.db", "report " + run_id + " --out report.html", dir_ / "report.err");
  ASSERT_EQ(report.code, 0) << report.text << ReadAll(dir_ / "report.err");
  const std::string url = "file://" + (dir_ / "report.html").string();

  // The DOM as the browser built it.
  int status = -1;
  const std::string dom = Chromium(chromium, "--dump-dom", url, &status);
  ASSERT_EQ(status, 0) << ReadAll(dir_ / "chromium.err");
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom << ReadAll(dir_ / "chromium.err");
  EXPECT_NE(dom.find("<html lang=\"en\">"), std::string::npos);

  // The timeline: an inline SVG with a title, a description and a bar per attempt.
  const std::string svg = Element(dom, "<svg[^>]*role=\"img\"", "</svg>");
  ASSERT_FALSE(svg.empty()) << "no timeline SVG in the rendered DOM:\n" << dom;
  EXPECT_NE(svg.find("<title id=\"rb-timeline-title\">"), std::string::npos);
  EXPECT_NE(svg.find("<desc id=\"rb-timeline-desc\">"), std::string::npos);
  EXPECT_EQ(Count(svg, std::regex("<g class=\"bar phase-step outcome-failed\">")), 1u) << svg;
  EXPECT_EQ(Count(svg, std::regex("<g class=\"bar phase-step outcome-succeeded\">")), 1u);
  EXPECT_EQ(Count(svg, std::regex("<g class=\"bar phase-rollback ")), 2u);

  // The failure: in the summary, and in the time to restore against the declared 2m.
  EXPECT_NE(dom.find("The run failed and was rolled back."), std::string::npos);
  EXPECT_TRUE(std::regex_search(dom, std::regex("step <code>activate</code></strong> failed")))
      << dom;
  EXPECT_NE(dom.find("disk full on 127.0.0.2"), std::string::npos);
  EXPECT_NE(dom.find("<h2>Time to restore</h2>"), std::string::npos);
  EXPECT_NE(dom.find("within target"), std::string::npos);
  EXPECT_NE(dom.find("Release 2.0 of the shop front (TICKET-13)"), std::string::npos);

  // Each host: a row in each ssh step's table, with its output and its rollback.
  const std::string activate = Element(dom, "<h3>step <code>activate</code>", "</table>");
  ASSERT_FALSE(activate.empty()) << dom;
  for (const std::string& spec : sshd.specs) {
    const std::string address = spec.substr(0, spec.find(':'));
    const std::regex row("<tr[^>]*><td class=\"mono\">" +
                         std::regex_replace(spec, std::regex("\\."), "\\.") +
                         "</td><td>(ok|failed)</td>.*?activating on " +
                         std::regex_replace(address, std::regex("\\."), "\\.") +
                         ".*?</td><td>rolled back</td></tr>");
    EXPECT_TRUE(std::regex_search(activate, row)) << spec << " in\n" << activate;
  }
  EXPECT_TRUE(std::regex_search(activate, std::regex("<td>failed</td><td class=\"num\">4</td>")))
      << activate;

  // The picture, kept for CI and the docs.
  const fs::path artifacts = fs::path(RUNBOOK_BINARY_DIR) / "artifacts";
  fs::create_directories(artifacts);
  const fs::path png = artifacts / "postmortem.png";
  fs::remove(png);
  Chromium(chromium, "--screenshot=" + Quote(png.string()) + " --window-size=1280,2000", url,
           &status);
  ASSERT_EQ(status, 0) << ReadAll(dir_ / "chromium.err");
  const std::string image = ReadAll(png);
  ASSERT_GT(image.size(), 10000u) << "a screenshot of a whole report is more than a few bytes";
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::ofstream(artifacts / "postmortem.html") << ReadAll(dir_ / "report.html");
}

}  // namespace
