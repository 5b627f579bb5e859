#include "web/accounts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "testing/temp_dir.h"

namespace runbook::web {
namespace {

TEST(AccountsTest, HashesWithYescryptAndASaltOfItsOwn) {
  auto a = HashPassword("correct horse");
  auto b = HashPassword("correct horse");
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->rfind("$y$", 0), 0u) << *a;
  EXPECT_NE(*a, *b);  // salted
  EXPECT_TRUE(CheckPassword("correct horse", *a));
  EXPECT_TRUE(CheckPassword("correct horse", *b));
  EXPECT_FALSE(CheckPassword("correct horse ", *a));
  EXPECT_FALSE(CheckPassword("", *a));
}

TEST(AccountsTest, AMalformedHashMatchesNothing) {
  for (const char* hash : {"", "plain", "$y$", "*0", "$y$j9T$short"}) {
    EXPECT_FALSE(CheckPassword("", hash)) << hash;
    EXPECT_FALSE(CheckPassword("plain", hash)) << hash;
  }
}

TEST(AccountsTest, ParsesNamesFoldedAndSkipsComments) {
  auto accounts = ParseAccounts("# team\n\n  Paula : $y$abc\nbob:$y$def\n", "users");
  ASSERT_TRUE(accounts.ok()) << accounts.message();
  EXPECT_EQ(accounts->size(), 2u);
  EXPECT_EQ(accounts->at("paula"), "$y$abc");
  EXPECT_EQ(accounts->at("bob"), "$y$def");
}

TEST(AccountsTest, NamesTheLineThatIsWrong) {
  auto no_colon = ParseAccounts("paula:$y$abc\nbob\n", "users");
  ASSERT_FALSE(no_colon.ok());
  EXPECT_NE(no_colon.message().find("users:2:"), std::string::npos) << no_colon.message();
  EXPECT_NE(no_colon.message().find("serve passwd"), std::string::npos);
  auto plain = ParseAccounts("paula:hunter2\n", "users");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.message().find("not a crypt(3) hash"), std::string::npos);
  EXPECT_FALSE(ParseAccounts(":$y$abc\n", "users").ok());
}

TEST(AccountsTest, SettingAPasswordKeepsTheOtherLinesAndIsOwnerOnly) {
  runbook::testing::TempDir dir;
  const std::string path = dir / "users";
  std::ofstream(path) << "# our approvers\nbob:$y$bob\nPaula:$y$old\n";
  auto name = SetAccountPassword(path, "paula", "$y$new");
  ASSERT_TRUE(name.ok()) << name.message();
  EXPECT_EQ(*name, "paula");
  auto added = SetAccountPassword(path, "carol", "$y$carol");
  ASSERT_TRUE(added.ok());
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str(), "# our approvers\nbob:$y$bob\npaula:$y$new\ncarol:$y$carol\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AccountsTest, ABrokenFileIsLeftAsItWas) {
  runbook::testing::TempDir dir;
  const std::string path = dir / "users";
  std::ofstream(path) << "garbage line\n";
  EXPECT_FALSE(SetAccountPassword(path, "paula", "$y$new").ok());
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str(), "garbage line\n");
  EXPECT_TRUE(LoadAccounts(dir / "missing").status().IsNotFound());
}

}  // namespace
}  // namespace runbook::web
