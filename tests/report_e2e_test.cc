// End-to-end test of `runbook report`: a real failing run of the built binary, its post-mortem
// written to a file, and the refusals (unknown run, unwritable --out).
#include <gtest/gtest.h>

#include "tests/e2e_util.h"
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

class ReportE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("runbook-report-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs `runbook ARGS`; returns the exit code and puts stdout in `*out` (stderr is kept apart
  // so that `run --json` stays parsable).
  int Runbook(const std::string& args, std::string* out = nullptr) {
    runbook::testing::Output o =
        runbook::testing::RunRunbook(dir_, dir_ / "audit.db", args, dir_ / "stderr");
    if (out) *out = o.text;
    return o.code;
  }

  std::string Read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
};

TEST_F(ReportE2eTest, WritesTheTimelineOfAFailedRun) {
  std::ofstream(dir_ / "rep.yaml")
      << "runbook: reported\nsteps:\n"
         "  - id: first\n    shell: \"sleep 0.2; echo '<script>alert(1)</script>'\"\n"
         "    rollback: {shell: \"echo undo first\"}\n"
         "  - id: second\n    shell: \"echo '<b>boom</b>' >&2; exit 3\"\n"
         "    rollback: {shell: \"true\"}\n";
  std::string out;
  ASSERT_EQ(Runbook("run rep.yaml --json", &out), 1) << out << Read(dir_ / "stderr");
  const auto summary = nlohmann::json::parse(out.substr(out.rfind("\n{") + 1), nullptr, false);
  ASSERT_TRUE(summary.is_object()) << out;
  const std::string run_id = summary["run_id"];

  ASSERT_EQ(Runbook("report " + run_id + " --out report.html", &out), 0) << Read(dir_ / "stderr");
  EXPECT_NE(out.find("report.html"), std::string::npos) << out;
  const std::string html = Read(dir_ / "report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find(">first<"), std::string::npos) << "a timeline bar labelled first";
  EXPECT_NE(html.find(">second<"), std::string::npos);
  EXPECT_NE(html.find(">undo first<"), std::string::npos);
  EXPECT_NE(html.find(run_id), std::string::npos);
  EXPECT_NE(html.find("rolled_back"), std::string::npos);
  EXPECT_NE(html.find("exit status 3"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;boom&lt;/b&gt;"), std::string::npos) << "the failed step's stderr";
  EXPECT_EQ(html.find("<script"), std::string::npos) << "step output must be escaped";
  EXPECT_EQ(html.find("<b>boom"), std::string::npos);
  // Nothing left behind but the report.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  // Writing again replaces the file.
  ASSERT_EQ(Runbook("report " + run_id + " --out report.html"), 0);
}

TEST_F(ReportE2eTest, RefusesUnknownRunsAndUnwritableFiles) {
  std::ofstream(dir_ / "ok.yaml") << "runbook: ok\nsteps:\n  - id: one\n    shell: \"true\"\n";
  std::string out;
  ASSERT_EQ(Runbook("run ok.yaml --json", &out), 0);
  const std::string run_id =
      nlohmann::json::parse(out.substr(out.rfind("\n{") + 1), nullptr, false)["run_id"];

  EXPECT_EQ(Runbook("report no-such-run --out x.html"), 2);
  EXPECT_NE(Read(dir_ / "stderr").find("unknown run 'no-such-run'"), std::string::npos)
      << Read(dir_ / "stderr");
  EXPECT_FALSE(fs::exists(dir_ / "x.html"));

  EXPECT_EQ(Runbook("report " + run_id + " --out missing-dir/r.html"), 2);
  EXPECT_NE(Read(dir_ / "stderr").find("cannot write the report"), std::string::npos)
      << Read(dir_ / "stderr");
  EXPECT_EQ(Runbook("report " + run_id + " --out ."), 2) << "a folder";

  if (geteuid() != 0) {  // root writes anywhere; the missing folder above covers root too
    fs::create_directories(dir_ / "ro");
    chmod((dir_ / "ro").c_str(), 0555);
    EXPECT_EQ(Runbook("report " + run_id + " --out ro/r.html"), 2);
    chmod((dir_ / "ro").c_str(), 0755);
  }
}

}  // namespace
