#include "engine/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>

namespace runbook {
namespace {

TEST(SharedLibraryTest, FillsEverySlotFromTheLibrary) {
  decltype(&::strlen) strlen_fn = nullptr;
  decltype(&::strcmp) strcmp_fn = nullptr;
  Status s = LoadSharedLibrary("libc.so.6", "this test",
                               {Symbol("strlen", &strlen_fn), Symbol("strcmp", &strcmp_fn)});
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_NE(strlen_fn, nullptr);
  EXPECT_EQ(strlen_fn("four"), 4u);
  EXPECT_EQ(strcmp_fn("a", "a"), 0);
}

TEST(SharedLibraryTest, AMissingLibraryIsAnErrorThatSaysWhatNeedsIt) {
  void* slot = nullptr;
  Status s =
      LoadSharedLibrary("libnot-there-at-all.so.7", "the frobnicator", {{"anything", &slot}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot load libnot-there-at-all.so.7, which the frobnicator needs"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(slot, nullptr);
}

TEST(SharedLibraryTest, AMissingFunctionIsAnErrorThatNamesIt) {
  decltype(&::strlen) strlen_fn = nullptr;
  void* missing = nullptr;
  Status s = LoadSharedLibrary("libc.so.6", "this test",
                               {Symbol("strlen", &strlen_fn), {"no_such_function_xyz", &missing}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("libc.so.6 has no function no_such_function_xyz"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace runbook
