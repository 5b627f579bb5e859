#include "app/time_filter.h"

#include <gtest/gtest.h>

#include "audit/audit_time.h"

namespace runbook {
namespace {

std::chrono::system_clock::time_point At(const std::string& text) {
  return ParseAuditTime(text).value();
}

TEST(TimeFilterTest, AgesDatesAndTimes) {
  const auto now = At("2026-12-03T10:00:00.000Z");
  EXPECT_EQ(ParseSince("7d", now).value(), At("2026-11-26T10:00:00.000Z"));
  EXPECT_EQ(ParseSince("2w", now).value(), At("2026-11-19T10:00:00.000Z"));
  EXPECT_EQ(ParseSince("12h", now).value(), At("2026-12-02T22:00:00.000Z"));
  EXPECT_EQ(ParseSince("2026-11-01", now).value(), At("2026-11-01T00:00:00.000Z"));
  EXPECT_EQ(ParseSince("2026-11-01T12:00:00Z", now).value(), At("2026-11-01T12:00:00.000Z"));
}

TEST(TimeFilterTest, WhatTheClockCannotHoldIsRefusedOrMeansEverything) {
  const auto now = At("2026-12-03T10:00:00.000Z");
  // The 64-bit nanosecond clock ends in 2262: a later date would wrap round to the past.
  Result<std::chrono::system_clock::time_point> late = ParseSince("2300-01-01", now);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.message().find("after 2261"), std::string::npos) << late.message();
  EXPECT_FALSE(ParseSince("2262-05-01T00:00:00Z", now).ok());
  EXPECT_TRUE(ParseSince("2261-12-31", now).ok());
  // An age older than 1970 is everything recorded, not a date in the future.
  EXPECT_EQ(ParseSince("999999w", now).value(), std::chrono::system_clock::time_point{});
  EXPECT_FALSE(ParseSince("soon", now).ok());
}

}  // namespace
}  // namespace runbook
