#include <gtest/gtest.h>

#include <cstdlib>

#include "app/app_test_util.h"
#include "app/signer.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

// The real signer against the real ssh-keygen (openssh-client, installed by scripts/setup.sh).
TEST(SshKeygenSignerTest, SignsAndVerifiesOnlyForTheListedIdentity) {
  runbook::testing::TempDir dir("app-signer");
  const std::string key = dir / "alice";
  const std::string gen = "ssh-keygen -q -t ed25519 -N '' -C alice -f " + key + " >/dev/null";
  ASSERT_EQ(std::system(gen.c_str()), 0) << "ssh-keygen is missing: run scripts/setup.sh";
  const std::string pub = runbook::testing::ReadFile(key + ".pub");
  testing::WriteTextFile(dir / "allowed_signers", "alice " + pub);

  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  const std::string hash(64, 'a');
  auto sig = signer->Sign(key, hash);
  ASSERT_TRUE(sig.ok()) << sig.message();
  EXPECT_NE(sig->find("-----BEGIN SSH SIGNATURE-----"), std::string::npos);
  EXPECT_TRUE(signer->Verify(dir / "allowed_signers", "alice", hash, *sig).ok());

  Status other_identity = signer->Verify(dir / "allowed_signers", "bob", hash, *sig);
  EXPECT_EQ(other_identity.kind(), StatusKind::kRefused);
  Status other_message = signer->Verify(dir / "allowed_signers", "alice", std::string(64, 'b'), *sig);
  EXPECT_FALSE(other_message.ok());
  EXPECT_EQ(signer->Sign(dir / "no-such-key", hash).status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(signer->Verify(dir / "no-such-file", "alice", hash, *sig).kind(),
            StatusKind::kNotFound);
}

}  // namespace
}  // namespace runbook
