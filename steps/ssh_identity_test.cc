#include "steps/ssh_identity.h"

#include <string>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "steps/known_hosts.h"
#include "testing/sshd_fixture.h"

namespace runbook {
namespace {

using testing::ReadFile;
using testing::ShOutput;
using testing::TempDir;

// Makes a key with ssh-keygen; returns the public key blob from NAME.pub.
std::string KeyGen(const TempDir& dir, const std::string& name, const std::string& args) {
  int status = -1;
  ShOutput("ssh-keygen -q " + args + " -C test -f " + dir / name + " >/dev/null 2>&1", &status);
  EXPECT_EQ(status, 0) << "ssh-keygen failed (scripts/setup.sh installs openssh-client)";
  const std::string pub = ReadFile(dir / (name + ".pub"));
  const size_t sp1 = pub.find(' '), sp2 = pub.find(' ', sp1 + 1);
  std::string blob;
  EXPECT_TRUE(Base64Decode(pub.substr(sp1 + 1, sp2 - sp1 - 1), &blob)) << pub;
  return blob;
}

bool Verifies(const std::string& blob, const std::string& data, const std::string& sig) {
  // blob: string "ssh-ed25519", string key (32 bytes): the key is the last 32 bytes.
  EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(blob.data() + blob.size() - 32), 32);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  return ok;
}

TEST(SshIdentityTest, ReadsAnEd25519KeyWithoutPassphraseAndSignsWithIt) {
  TempDir dir;
  const std::string blob = KeyGen(dir, "id", "-t ed25519 -N ''");
  std::unique_ptr<SshIdentity> id = SshIdentity::Load(dir / "id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->public_blob(), blob);
  const std::string data = "session id and userauth request";
  const std::string sig = id->Sign(reinterpret_cast<const unsigned char*>(data.data()),
                                   data.size());
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(Verifies(blob, data, sig));
  EXPECT_FALSE(Verifies(blob, data + "!", sig));
}

TEST(SshIdentityTest, LeavesEveryOtherKeyToLibssh2) {
  TempDir dir;
  KeyGen(dir, "locked", "-t ed25519 -N 'secret'");
  KeyGen(dir, "rsa", "-t rsa -b 2048 -N ''");
  KeyGen(dir, "ecdsa", "-t ecdsa -N ''");
  KeyGen(dir, "pem", "-t rsa -b 2048 -m PEM -N ''");
  for (const char* name : {"locked", "rsa", "ecdsa", "pem", "missing"}) {
    EXPECT_EQ(SshIdentity::Load(dir / name), nullptr) << name;
  }
  EXPECT_EQ(SshIdentity::Parse(""), nullptr);
  EXPECT_EQ(SshIdentity::Parse("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64!\n"
                               "-----END OPENSSH PRIVATE KEY-----\n"),
            nullptr);
}

TEST(SshIdentityTest, RefusesAFileWhosePublicKeyIsNotTheSecretOnes) {
  TempDir dir;
  KeyGen(dir, "a", "-t ed25519 -N ''");
  const std::string text = ReadFile(dir / "a");
  const size_t begin = text.find('\n') + 1, end = text.find("-----END");
  std::string b64, raw;
  for (size_t i = begin; i < end; ++i) {
    if (text[i] != '\n') b64 += text[i];
  }
  ASSERT_TRUE(Base64Decode(b64, &raw));
  ASSERT_NE(SshIdentity::Parse(text), nullptr);
  // The public key blob outside the private section ends right before the section's length;
  // flip its last byte.
  const std::string magic("openssh-key-v1\0", 15);
  const size_t blob_end = magic.size() + (4 + 4) + (4 + 4) + 4 + 4 + (4 + 51);
  raw[blob_end - 1] = static_cast<char>(raw[blob_end - 1] ^ 1);
  const std::string tampered = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + Base64Encode(raw) +
                               "\n-----END OPENSSH PRIVATE KEY-----\n";
  EXPECT_EQ(SshIdentity::Parse(tampered), nullptr);
}

}  // namespace
}  // namespace runbook
