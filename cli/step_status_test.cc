#include "cli/step_status.h"

#include <gtest/gtest.h>

namespace runbook::cli {
namespace {

using std::chrono::milliseconds;

TEST(StepStatusTest, SaysTimeTimeoutHostsAndAttempt) {
  StepStatus status({});
  const StepStatus::TimePoint t0{};
  status.Start("deploy", 2, 3, milliseconds(600000), t0);
  status.SetHosts(12, 50, 1);
  EXPECT_EQ(status.LiveDue(t0 + milliseconds(62500)),
            "deploy … 1m2s (timeout 10m), 12/50 hosts done, 1 failed, attempt 2/3");
}

TEST(StepStatusTest, OneHostIsNoFleet) {
  StepStatus status({});
  const StepStatus::TimePoint t0{};
  status.Start("check", 1, 1, milliseconds(0), t0);
  status.SetHosts(0, 1, 0);
  EXPECT_EQ(status.LiveDue(t0 + milliseconds(4000)), "check … 4s");
}

TEST(StepStatusTest, LiveNowOnlyOnceShownAndNothingOnceStopped) {
  StepStatus status({});
  const StepStatus::TimePoint t0{};
  status.Start("deploy", 1, 1, milliseconds(0), t0);
  EXPECT_EQ(status.LiveNow(t0 + milliseconds(2500)), std::nullopt);  // never drawn yet
  EXPECT_TRUE(status.LiveDue(t0 + milliseconds(2500)).has_value());
  EXPECT_EQ(status.LiveNow(t0 + milliseconds(2600)), "deploy … 2s");
  status.Stop();
  EXPECT_EQ(status.LiveNow(t0 + milliseconds(2700)), std::nullopt);
  EXPECT_EQ(status.LiveDue(t0 + milliseconds(9000)), std::nullopt);
  EXPECT_EQ(status.PlainDue(t0 + milliseconds(90000)), std::nullopt);
}

TEST(StepStatusTest, ANewStepStartsOver) {
  StepStatus status({.plain_every = milliseconds(1000)});
  const StepStatus::TimePoint t0{};
  status.Start("a", 1, 1, milliseconds(0), t0);
  status.SetHosts(3, 4, 0);
  EXPECT_EQ(status.PlainDue(t0 + milliseconds(1000)), "a … still running: 1s, 3/4 hosts done");
  status.Start("b", 1, 1, milliseconds(0), t0 + milliseconds(1500));
  EXPECT_EQ(status.PlainDue(t0 + milliseconds(2000)), std::nullopt);
  EXPECT_EQ(status.PlainDue(t0 + milliseconds(2500)), "b … still running: 1s");
}

}  // namespace
}  // namespace runbook::cli
