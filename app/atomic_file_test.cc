#include "app/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "testing/temp_dir.h"

namespace runbook {
namespace {

TEST(WriteFileAtomicallyTest, ReplacesTheFileAndLeavesNoTemporary) {
  runbook::testing::TempDir dir("app-atomic");
  const std::string path = dir / "report.html";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "new").ok());
  EXPECT_EQ(runbook::testing::ReadFile(path), "new");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0044, 0044u) << "a report is for sharing: readable by others";
}

TEST(WriteFileAtomicallyTest, AMissingFolderIsAnIoErrorAndTheOldFileSurvives) {
  runbook::testing::TempDir dir("app-atomic");
  Status s = WriteFileAtomically(dir / "no/such/folder/x.html", "data");
  EXPECT_EQ(s.kind(), StatusKind::kIOError);
  EXPECT_NE(s.message().find("cannot create a file in"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace runbook
