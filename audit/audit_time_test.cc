#include "audit/audit_time.h"

#include <gtest/gtest.h>

#include <regex>

#include "audit/audit_test_util.h"

namespace runbook {
namespace {

using audit_test::At;

TEST(AuditTimeTest, FormatsRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(FormatAuditTime(At(123)), "2026-11-23T15:04:05.123Z");
  EXPECT_EQ(FormatAuditTime(At(0)), "2026-11-23T15:04:05.000Z");
  EXPECT_EQ(FormatAuditTime(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are cut, never rounded up into the next millisecond.
  EXPECT_EQ(FormatAuditTime(At(999) + std::chrono::microseconds(999)), "2026-11-23T15:04:05.999Z");
  std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(FormatAuditTime(std::chrono::system_clock::now()), rfc3339));
}

TEST(AuditTimeTest, ParsesWhatItFormats) {
  for (long long ms : {0LL, 1LL, 999LL, 86400000LL * 400 + 17}) {
    Result<std::chrono::system_clock::time_point> t = ParseAuditTime(FormatAuditTime(At(ms)));
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(*t, At(ms));
  }
  Result<std::chrono::system_clock::time_point> leap = ParseAuditTime("2024-02-29T00:00:00Z");
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(FormatAuditTime(*leap), "2024-02-29T00:00:00.000Z");
  Result<std::chrono::system_clock::time_point> fine = ParseAuditTime("2026-11-23T15:04:05.1239Z");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, At(123));
}

TEST(AuditTimeTest, RejectsOtherForms) {
  for (const char* bad :
       {"", "2026-11-23", "2026-11-23 15:04:05Z", "2026-11-23T15:04:05+01:00",
        "2026-13-23T15:04:05Z", "2026-11-23T15:04:05.Z", "2026-11-23T15:04:05.123"}) {
    Result<std::chrono::system_clock::time_point> t = ParseAuditTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.message().find("invalid timestamp"), std::string::npos);
  }
}

// Found by fuzz/audit_event_fuzzer.cc (fuzz/regressions/audit_event/): a stored event of the
// year 4052 overflowed the nanosecond clock when replay converted it (undefined behaviour), and
// one of 1700 would have overflowed the offset from its run's start.
TEST(AuditTimeTest, RejectsYearsTheClockCannotHold) {
  for (const char* bad : {"4052-11-23T15:04:44.123Z", "2262-01-01T00:00:00Z",
                          "1969-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z"}) {
    Result<std::chrono::system_clock::time_point> t = ParseAuditTime(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.message().find("the year must be 1970 to 2261"), std::string::npos) << t.message();
  }
  Result<std::chrono::system_clock::time_point> first = ParseAuditTime("1970-01-01T00:00:00Z");
  Result<std::chrono::system_clock::time_point> last = ParseAuditTime("2261-12-31T23:59:59.999Z");
  ASSERT_TRUE(first.ok() && last.ok());
  EXPECT_EQ(FormatAuditTime(*last), "2261-12-31T23:59:59.999Z");
  EXPECT_GT((*last - *first).count(), 0);  // the widest difference still fits
}

TEST(AuditTimeTest, FormatsDurationsForPeople) {
  EXPECT_EQ(FormatDurationMs(0), "0ms");
  EXPECT_EQ(FormatDurationMs(850), "850ms");
  EXPECT_EQ(FormatDurationMs(12345), "12.345s");
  EXPECT_EQ(FormatDurationMs(187000), "3m07s");
  EXPECT_EQ(FormatDurationMs(3720000), "1h02m");
  EXPECT_EQ(FormatDurationMs(-1500), "-1.500s");
}

}  // namespace
}  // namespace runbook
