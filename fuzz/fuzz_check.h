// FUZZ_CHECK(cond): a property a fuzz target holds its input to. When it does not hold, it
// says which and where and aborts, which libFuzzer reports as a crash and saves the input.
// Active in every build (unlike assert, which -DNDEBUG would remove).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
