// Runs tests/ssh_release_e2e.sh: the library runbook runbooks/library/ssh-release.yaml through
// the built binary against a real sshd on loopback standing for two hosts (release, release,
// broken release that rolls back, a release that fails half-way on one host with and without
// max_fail, and the executor killed while a host activates, then recovered).
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace {

TEST(SshReleaseE2eTest, ReleasesAndRollsBackOverSsh) {
  const std::string command = std::string("bash ") + RUNBOOK_SOURCE_DIR +
                              "/tests/ssh_release_e2e.sh " + RUNBOOK_BINARY_DIR + "/runbook 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find(", 0 failed"), std::string::npos) << out;
}

}  // namespace
