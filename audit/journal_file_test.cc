// The journal file's format on its own (journal_file.h): records in order, the reserve, a torn
// last record after a crash, a damaged record, clearing, and the file lock between processes.
#include "audit/journal_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/audit_test_util.h"

namespace runbook {
namespace {

using audit_test::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

JournalFile::Contents ReadOrDie(const JournalFile& journal) {
  Result<JournalFile::Contents> contents = journal.Read();
  EXPECT_TRUE(contents.ok()) << contents.message();
  return contents.ok() ? *contents : JournalFile::Contents{};
}

// Appends each payload under the lock, as AuditWriter does.
void AppendAll(JournalFile& journal, const std::vector<std::string>& payloads) {
  JournalLock lock(journal);
  ASSERT_TRUE(lock.status().ok()) << lock.status().message();
  for (const std::string& p : payloads) {
    JournalFile::Contents contents = ReadOrDie(journal);
    ASSERT_TRUE(journal.Append(p, contents).ok());
  }
}

TEST(JournalFileTest, AMissingJournalIsNotOpenedAndNotCreated) {
  TempDir dir;
  JournalFile journal(dir.File("audit.db.pending"));
  Result<bool> open = journal.OpenIfExists();
  ASSERT_TRUE(open.ok()) << open.message();
  EXPECT_FALSE(*open);
  EXPECT_FALSE(std::filesystem::exists(dir.File("audit.db.pending")));
}

TEST(JournalFileTest, RecordsAreReadBackInTheOrderTheyWereWritten) {
  TempDir dir;
  JournalFile journal(dir.File("audit.db.pending"));
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  AppendAll(journal, {R"({"n":1})", R"({"n":2,"s":"two"})", R"({"n":3})"});
  JournalFile::Contents contents = ReadOrDie(journal);
  EXPECT_EQ(contents.records,
            (std::vector<std::string>{R"({"n":1})", R"({"n":2,"s":"two"})", R"({"n":3})"}));
  EXPECT_EQ(contents.warning, "");
  // The format is text: one checksummed record a line.
  EXPECT_EQ(ReadAll(journal.path()), JournalFile::Line(R"({"n":1})") +
                                         JournalFile::Line(R"({"n":2,"s":"two"})") +
                                         JournalFile::Line(R"({"n":3})"));
  EXPECT_EQ(JournalFile::Line("{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a {}\n");
}

TEST(JournalFileTest, TheReserveIsRealZerosAndRecordsGoIntoIt) {
  TempDir dir;
  JournalFile journal(dir.File("audit.db.pending"));
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  {
    JournalLock lock(journal);
    ASSERT_TRUE(journal.Reserve(8192).ok());
  }
  struct stat st {};
  ASSERT_EQ(stat(journal.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  EXPECT_GE(st.st_blocks * 512, 8192) << "the reserve must be allocated, not a sparse hole";
  EXPECT_TRUE(ReadOrDie(journal).records.empty());

  AppendAll(journal, {R"({"n":1})", R"({"n":2})"});
  ASSERT_EQ(stat(journal.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192) << "records inside the reserve do not grow the file";
  EXPECT_EQ(ReadOrDie(journal).records.size(), 2u);
}

TEST(JournalFileTest, APartialLastRecordIsIgnoredWithAWarningAndOverwritten) {
  TempDir dir;
  const std::string path = dir.File("audit.db.pending");
  const std::string good = JournalFile::Line(R"({"n":1})");
  const std::string torn = JournalFile::Line(R"({"n":2,"long":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})");
  // A crash while the second record was written: only part of it reached the disk.
  WriteAll(path, good + torn.substr(0, torn.size() / 2));
  JournalFile journal(path);
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  JournalFile::Contents contents = ReadOrDie(journal);
  EXPECT_EQ(contents.records, std::vector<std::string>{R"({"n":1})"});
  EXPECT_EQ(contents.end, good.size());
  EXPECT_NE(
      contents.warning.find("ignored a partial record at offset " + std::to_string(good.size())),
      std::string::npos)
      << contents.warning;

  // The next record takes its place; the end of the torn one is never read as a record.
  AppendAll(journal, {R"({"n":3})"});
  contents = ReadOrDie(journal);
  EXPECT_EQ(contents.records, (std::vector<std::string>{R"({"n":1})", R"({"n":3})"}));
  EXPECT_EQ(contents.warning, "");
}

TEST(JournalFileTest, APartialRecordInsideTheReserveIsIgnoredToo) {
  TempDir dir;
  const std::string path = dir.File("audit.db.pending");
  const std::string torn = JournalFile::Line(R"({"n":1})");
  WriteAll(path, torn.substr(0, 20) + std::string(4096, '\0'));
  JournalFile journal(path);
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  JournalFile::Contents contents = ReadOrDie(journal);
  EXPECT_TRUE(contents.records.empty());
  EXPECT_NE(contents.warning.find("ignored a partial record at offset 0"), std::string::npos);
}

TEST(JournalFileTest, ADamagedRecordEndsTheRecordsWithAWarning) {
  TempDir dir;
  const std::string path = dir.File("audit.db.pending");
  std::string second = JournalFile::Line(R"({"n":2})");
  second[second.size() - 3] = '7';  // {"n":7} no longer matches its checksum
  WriteAll(path, JournalFile::Line(R"({"n":1})") + second + JournalFile::Line(R"({"n":3})"));
  JournalFile journal(path);
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  JournalFile::Contents contents = ReadOrDie(journal);
  EXPECT_EQ(contents.records, std::vector<std::string>{R"({"n":1})"});
  EXPECT_NE(contents.warning.find("ignored a damaged record"), std::string::npos)
      << contents.warning;
}

TEST(JournalFileTest, ClearEmptiesTheJournalAndKeepsItsReserve) {
  TempDir dir;
  JournalFile journal(dir.File("audit.db.pending"));
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  {
    JournalLock lock(journal);
    ASSERT_TRUE(journal.Reserve(4096).ok());
  }
  // More than the reserve holds: the file grows past it.
  AppendAll(journal, {R"({"s":")" + std::string(6000, 'x') + R"("})", R"({"n":2})"});
  struct stat st {};
  ASSERT_EQ(stat(journal.path().c_str(), &st), 0);
  EXPECT_GT(st.st_size, 4096);
  {
    JournalLock lock(journal);
    ASSERT_TRUE(journal.Clear(4096).ok());
  }
  ASSERT_EQ(stat(journal.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096) << "shortened back to the reserve";
  EXPECT_EQ(ReadAll(journal.path()), std::string(4096, '\0'));
  EXPECT_TRUE(ReadOrDie(journal).records.empty());
}

TEST(JournalFileTest, TheLockExcludesAnotherProcess) {
  TempDir dir;
  const std::string path = dir.File("audit.db.pending");
  JournalFile journal(path);
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  ASSERT_TRUE(journal.Lock().ok());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    JournalFile other(path);
    if (!other.OpenOrCreate().ok()) _exit(2);
    (void)!write(ready[1], "x", 1);
    if (!other.Lock().ok()) _exit(3);  // waits for the parent's Unlock
    JournalFile::Contents contents = *other.Read();
    _exit(contents.records.size() == 1 ? 0 : 4);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The child is waiting: this record is in place before it reads.
  ASSERT_TRUE(journal.Append(R"({"n":1})", *journal.Read()).ok());
  journal.Unlock();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace runbook
