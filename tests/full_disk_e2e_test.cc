// The built `runbook` binary with its audit database on a disk that a step fills (SPEC §5 "Full
// disks and busy databases"), on a real 512 KiB tmpfs: every rollback action runs, the run
// says where its records wait and exits 3, and once space is back the next run on the same
// lock works and `audit verify` passes with nothing lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/tmpfs_mount.h"
#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;

using runbook::testing::Output;
using runbook::testing::TmpfsMount;

class FullDiskE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("runbook-full-disk-e2e-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  Output Runbook(const std::string& args) { return runbook::testing::RunRunbook(dir_, db_, args); }

  fs::path Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  std::string Log() {
    std::ifstream in(dir_ / "log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
  fs::path db_;
};

TEST_F(FullDiskE2eTest, AFullDiskStillRollsBackFreesTheLockAndLosesNothing) {
  TmpfsMount disk("512k");
  SKIP_UNLESS_MOUNTED(disk);
  db_ = disk.File("audit.db");
  const std::string filler = disk.File("filler");
  Write("full.yaml",
        "runbook: full\nlock: full-disk\nsteps:\n"
        "  - id: prepare\n    shell: \"echo do-prepare >> log\"\n"
        "    rollback: {shell: \"echo undo-prepare >> log\"}\n"
        "  - id: fill\n    shell: \"head -c 8000000 /dev/zero > " +
            filler +
            " 2>/dev/null; exit 1\"\n"
            "    rollback: {shell: \"echo undo-fill >> log\"}\n"
            "rollback:\n  - shell: \"echo global >> log\"\n");
  Output run = Runbook("run full.yaml --json");
  EXPECT_EQ(Log(), "do-prepare\nundo-fill\nundo-prepare\nglobal\n") << run.text;
  EXPECT_EQ(run.code, 3) << run.text;
  const std::string journal = disk.File("audit.db.pending");
  EXPECT_NE(run.text.find("deferred to the journal " + journal), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("\"audit_journal\":\"" + journal + "\""), std::string::npos) << run.text;

  // While the disk is still full, the lock stays held and the refusal says why.
  Write("next.yaml",
        "runbook: next\nlock: full-disk\nsteps:\n"
        "  - id: a\n    shell: \"echo next >> log\"\n");
  Output refused = Runbook("run next.yaml");
  EXPECT_EQ(refused.code, 4) << refused.text;
  EXPECT_NE(refused.text.find("wait in the journal " + journal), std::string::npos) << refused.text;

  fs::remove(filler);
  Output next = Runbook("run next.yaml");
  EXPECT_EQ(next.code, 0) << next.text;
  EXPECT_NE(next.text.find("from the journal " + journal + " into the audit database"),
            std::string::npos)
      << next.text;
  Output verify = Runbook("audit verify");
  EXPECT_EQ(verify.code, 0) << verify.text;
  Output runs = Runbook("runs");
  EXPECT_NE(runs.text.find("rolled_back"), std::string::npos) << runs.text;
  Output events = Runbook("audit export --format jsonl");
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = events.text.find(what, at)) != std::string::npos; ++at) ++n;
    return n;
  };
  EXPECT_EQ(count("\"run_finished\""), 2u)
      << "one run_finished for each run, none lost, none twice";
  EXPECT_EQ(count("\"rollback_succeeded\""), 3u) << events.text;
}

}  // namespace
