#include "web/sessions.h"

#include <gtest/gtest.h>

#include <set>

namespace runbook::web {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TEST(SessionsTest, TokensAreLongRandomAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = RandomToken();
    EXPECT_EQ(t.size(), 64u);
    EXPECT_TRUE(seen.insert(t).second);
  }
  EXPECT_TRUE(SameToken("abc", "abc"));
  EXPECT_FALSE(SameToken("abc", "abd"));
  EXPECT_FALSE(SameToken("abc", "ab"));
  EXPECT_FALSE(SameToken("", ""));  // an empty token never matches
}

TEST(SessionsTest, ASessionEndsWhenIdleTooLong) {
  SessionTable table(seconds(60));
  const auto t0 = Clock::now();
  auto [token, session] = table.Create("paula", t0);
  EXPECT_EQ(session.user, "paula");
  EXPECT_EQ(session.csrf.size(), 64u);
  ASSERT_TRUE(table.Find(token, t0 + seconds(50)));
  // Seen at +50 s: the idle clock restarted.
  ASSERT_TRUE(table.Find(token, t0 + seconds(100)));
  EXPECT_FALSE(table.Find(token, t0 + seconds(161)));
  EXPECT_FALSE(table.Find(token, t0 + seconds(1)));  // forgotten
  EXPECT_FALSE(table.Find("", t0));
  EXPECT_FALSE(table.Find(session.csrf, t0));  // the CSRF token is not a session
}

TEST(SessionsTest, LogoutForgetsTheSession) {
  SessionTable table(seconds(60));
  auto [token, session] = table.Create("bob", Clock::now());
  table.Remove(token);
  EXPECT_FALSE(table.Find(token, Clock::now()));
}

TEST(SessionsTest, TheThrottleCountsFailuresPerKeyInItsWindow) {
  LoginThrottle throttle(3, seconds(60));
  const auto t0 = Clock::now();
  const std::vector<std::string> keys = {"address:1.2.3.4", "name:bob"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(throttle.RetryAfter(keys, t0 + seconds(i)), 0);
    throttle.Failed(keys, t0 + seconds(i));
  }
  const long long wait = throttle.RetryAfter(keys, t0 + seconds(3));
  EXPECT_GT(wait, 50);
  EXPECT_LE(wait, 61);
  // Another name from the same address is held too; the same name from elsewhere as well.
  EXPECT_GT(throttle.RetryAfter({"address:1.2.3.4", "name:carol"}, t0 + seconds(3)), 0);
  EXPECT_GT(throttle.RetryAfter({"address:5.6.7.8", "name:bob"}, t0 + seconds(3)), 0);
  EXPECT_EQ(throttle.RetryAfter({"address:5.6.7.8", "name:carol"}, t0 + seconds(3)), 0);
  // A success forgets the name's failures, not the address's.
  LoginThrottle other(3, seconds(60));
  for (int i = 0; i < 3; ++i) other.Failed(keys, t0);
  other.Succeeded("name:bob");
  EXPECT_EQ(other.RetryAfter({"name:bob"}, t0 + seconds(3)), 0);
  EXPECT_GT(other.RetryAfter({"address:1.2.3.4"}, t0 + seconds(3)), 0);
  // Once the first failure leaves the window, one more try is allowed.
  EXPECT_EQ(throttle.RetryAfter(keys, t0 + seconds(61)), 0);
}

}  // namespace
}  // namespace runbook::web
