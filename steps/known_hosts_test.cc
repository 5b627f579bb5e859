#include "steps/known_hosts.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "testing/sshd_fixture.h"

namespace runbook {
namespace {

using testing::ReadFile;
using testing::ShOutput;
using testing::TempDir;
using testing::WriteFile;

// A key as known_hosts writes it: "type base64".
struct Key {
  std::string line;  // "ssh-ed25519 AAAA..."
  HostKey key;
};

Key MakeKey(const TempDir& dir, const std::string& name, const std::string& type = "ed25519") {
  int status = -1;
  ShOutput("ssh-keygen -q -t " + type + " -N '' -f " + dir / name + " >/dev/null 2>&1", &status);
  EXPECT_EQ(status, 0) << "ssh-keygen failed (scripts/setup.sh installs openssh-client)";
  std::string pub = ReadFile(dir / (name + ".pub"));
  Key k;
  size_t sp1 = pub.find(' ');
  size_t sp2 = pub.find(' ', sp1 + 1);
  k.line = pub.substr(0, sp2);
  EXPECT_TRUE(Base64Decode(pub.substr(sp1 + 1, sp2 - sp1 - 1), &k.key.blob)) << pub;
  return k;
}

class SshKnownHostsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    a_ = new Key(MakeKey(*dir_, "a"));
    b_ = new Key(MakeKey(*dir_, "b"));
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    delete dir_;
  }
  static TempDir* dir_;
  static Key* a_;
  static Key* b_;
};
TempDir* SshKnownHostsTest::dir_ = nullptr;
Key* SshKnownHostsTest::a_ = nullptr;
Key* SshKnownHostsTest::b_ = nullptr;

TEST_F(SshKnownHostsTest, KeyTypeAndFingerprintAgreeWithSshKeygen) {
  EXPECT_EQ(a_->key.Type(), "ssh-ed25519");
  std::string fp = ShOutput("ssh-keygen -l -f " + *dir_ / "a.pub");
  EXPECT_NE(fp.find(a_->key.Fingerprint()), std::string::npos) << fp;
  EXPECT_EQ(a_->key.Type() + " " + a_->key.Base64(), a_->line);
}

TEST_F(SshKnownHostsTest, NamesHostOnPort22AndBracketsOtherPorts) {
  EXPECT_EQ(KnownHostsName("Web1", 22), "web1");
  EXPECT_EQ(KnownHostsName("127.0.0.2", 2222), "[127.0.0.2]:2222");
  KnownHosts kh = KnownHosts::Parse("web1 " + a_->line + "\n[web2]:2222 " + a_->line + "\n");
  EXPECT_EQ(kh.Check("web1", 22, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("WEB1", 22, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("web1", 2222, a_->key).match, HostKeyMatch::kUnknown);
  EXPECT_EQ(kh.Check("web2", 2222, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("web2", 22, a_->key).match, HostKeyMatch::kUnknown);
}

TEST_F(SshKnownHostsTest, ChangedKeyIsAMismatchThatNamesTheLine) {
  KnownHosts kh = KnownHosts::Parse("# comment\n\nweb1,10.0.0.1 " + b_->line + " old\n", "/kh");
  HostKeyCheck c = kh.Check("10.0.0.1", 22, a_->key);
  EXPECT_EQ(c.match, HostKeyMatch::kMismatch);
  EXPECT_NE(c.message.find("host key mismatch"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find("/kh:3"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find(a_->key.Fingerprint()), std::string::npos) << c.message;
  HostKeyCheck u = kh.Check("web9", 22, a_->key);
  EXPECT_EQ(u.match, HostKeyMatch::kUnknown);
  EXPECT_NE(u.message.find("unknown host key"), std::string::npos) << u.message;
}

TEST_F(SshKnownHostsTest, WildcardsNegationAndCase) {
  KnownHosts kh = KnownHosts::Parse("*.Example.COM,!bad.example.com " + a_->line +
                                    "\n[10.0.0.?]:2222 " + a_->line + "\n");
  EXPECT_EQ(kh.Check("web.example.com", 22, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("bad.example.com", 22, a_->key).match, HostKeyMatch::kUnknown);
  EXPECT_EQ(kh.Check("10.0.0.7", 2222, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("10.0.0.17", 2222, a_->key).match, HostKeyMatch::kUnknown);
}

TEST_F(SshKnownHostsTest, HashedEntriesWrittenBySshKeygenMatch) {
  std::string file = *dir_ / "hashed";
  WriteFile(file, "web1 " + a_->line + "\n[127.0.0.3]:2200 " + a_->line + "\n");
  ShOutput("ssh-keygen -q -H -f " + file + " >/dev/null 2>&1");
  std::string text = ReadFile(file);
  ASSERT_EQ(text.find("web1"), std::string::npos) << text;
  ASSERT_NE(text.find("|1|"), std::string::npos) << text;
  Result<KnownHosts> kh = KnownHosts::Load(file);
  ASSERT_TRUE(kh.ok()) << kh.message();
  EXPECT_EQ(kh->Check("web1", 22, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh->Check("127.0.0.3", 2200, a_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh->Check("127.0.0.3", 2200, b_->key).match, HostKeyMatch::kMismatch);
  EXPECT_EQ(kh->Check("web2", 22, a_->key).match, HostKeyMatch::kUnknown);
}

TEST_F(SshKnownHostsTest, RevokedKeyIsRefusedAndCertAuthorityLinesIgnored) {
  KnownHosts kh = KnownHosts::Parse("@revoked * " + a_->line + "\nweb1 " + a_->line +
                                    "\n@cert-authority * " + b_->line + "\r\n");
  HostKeyCheck c = kh.Check("web1", 22, a_->key);
  EXPECT_EQ(c.match, HostKeyMatch::kRevoked);
  EXPECT_NE(c.message.find("revoked"), std::string::npos);
  EXPECT_EQ(kh.Check("web2", 22, b_->key).match, HostKeyMatch::kUnknown);
}

TEST_F(SshKnownHostsTest, BrokenLinesAreSkipped) {
  KnownHosts kh = KnownHosts::Parse("web1\nweb1 ssh-ed25519 not*base64\n|1|zz|yy " + a_->line +
                                    "\nweb1 " + a_->line + "\n");
  EXPECT_EQ(kh.size(), 1u);
  EXPECT_EQ(kh.Check("web1", 22, a_->key).match, HostKeyMatch::kMatch);
}

TEST_F(SshKnownHostsTest, KnownTypesListsTheHostsKeyTypes) {
  Key ecdsa = MakeKey(*dir_, "e", "ecdsa");
  KnownHosts kh = KnownHosts::Parse("web1 " + ecdsa.line + "\nweb1 " + a_->line + "\nweb2 " +
                                    b_->line + "\nweb1 " + a_->line + "\n");
  EXPECT_EQ(kh.KnownTypes("web1", 22),
            (std::vector<std::string>{"ecdsa-sha2-nistp256", "ssh-ed25519"}));
  EXPECT_TRUE(kh.KnownTypes("web3", 22).empty());
}

// Plain names are looked up through an index, patterns by scanning: together, in file order.
TEST_F(SshKnownHostsTest, PlainNamesAndPatternsKeepFileOrder) {
  Key ecdsa = MakeKey(*dir_, "e2", "ecdsa");
  std::string text = "web9 " + b_->line + "\n";
  for (int i = 0; i < 100; ++i) text += "host" + std::to_string(i) + " " + b_->line + "\n";
  text += "web* " + ecdsa.line + "\nWEB1,web2 " + a_->line + "\nweb1,!web2 " + b_->line + "\n";
  KnownHosts kh = KnownHosts::Parse(text, "/kh");
  EXPECT_EQ(kh.KnownTypes("web1", 22),
            (std::vector<std::string>{"ecdsa-sha2-nistp256", "ssh-ed25519"}));
  EXPECT_EQ(kh.KnownTypes("web2", 22),
            (std::vector<std::string>{"ecdsa-sha2-nistp256", "ssh-ed25519"}));
  EXPECT_EQ(kh.Check("web1", 22, a_->key).match, HostKeyMatch::kMatch);
  // The first conflicting line is the pattern's (line 102), before the plain one (103).
  HostKeyCheck c = kh.Check("web2", 22, b_->key);
  EXPECT_EQ(c.match, HostKeyMatch::kMismatch);
  EXPECT_NE(c.message.find("/kh:102"), std::string::npos) << c.message;
  EXPECT_EQ(kh.Check("host42", 22, b_->key).match, HostKeyMatch::kMatch);
  EXPECT_EQ(kh.Check("host42", 22, a_->key).match, HostKeyMatch::kMismatch);
  EXPECT_EQ(kh.Check("host420", 22, b_->key).match, HostKeyMatch::kUnknown);
}

TEST_F(SshKnownHostsTest, MissingFileLoadsEmpty) {
  Result<KnownHosts> kh = KnownHosts::Load(*dir_ / "does-not-exist");
  ASSERT_TRUE(kh.ok());
  EXPECT_EQ(kh->size(), 0u);
}

TEST_F(SshKnownHostsTest, AcceptNewAppendsCreatesAndRefusesChangedKeys) {
  TempDir dir;
  std::string file = dir / "sub/known_hosts";  // the folder does not exist yet
  KnownHosts kh = KnownHosts::Parse("", file);
  Result<HostKeyCheck> r = kh.AcceptNew("127.0.0.1", 2222, a_->key);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->match, HostKeyMatch::kUnknown);  // it was new, and is recorded now
  EXPECT_EQ(ReadFile(file), "[127.0.0.1]:2222 " + a_->line + "\n");
  EXPECT_EQ(kh.Check("127.0.0.1", 2222, a_->key).match, HostKeyMatch::kMatch);

  r = kh.AcceptNew("web1", 22, a_->key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ReadFile(file), "[127.0.0.1]:2222 " + a_->line + "\nweb1 " + a_->line + "\n");

  // A changed key is refused and nothing is written.
  r = kh.AcceptNew("127.0.0.1", 2222, b_->key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->match, HostKeyMatch::kMismatch);
  EXPECT_EQ(ReadFile(file), "[127.0.0.1]:2222 " + a_->line + "\nweb1 " + a_->line + "\n");
}

// Found by fuzz/known_hosts_fuzzer.cc (fuzz/regressions/known_hosts/): a blob whose type name
// held a space, a NUL and more was written by accept-new as that name, so that its line split
// into other fields and never matched the key again; a newline there would have added a line.
TEST_F(SshKnownHostsTest, AKeyWhoseTypeNameIsNotPrintableIsOfTypeUnknown) {
  HostKey odd;
  ASSERT_TRUE(Base64Decode("AAAAC3NzaC1lAAAAIHaSw601QLuAPAwebDHt", &odd.blob));
  EXPECT_EQ(odd.Type(), "unknown");
  HostKey newline{std::string("\0\0\0\x05a\nb c", 9) + std::string(32, 'k')};
  EXPECT_EQ(newline.Type(), "unknown");

  TempDir dir;
  std::string file = dir / "known_hosts";
  KnownHosts kh = KnownHosts::Parse("", file);
  ASSERT_TRUE(kh.AcceptNew("web1", 22, odd).ok());
  ASSERT_TRUE(kh.AcceptNew("web2", 22, newline).ok());
  EXPECT_EQ(ReadFile(file),
            "web1 unknown " + odd.Base64() + "\nweb2 unknown " + newline.Base64() + "\n");
  const KnownHosts reread = KnownHosts::Parse(ReadFile(file));
  EXPECT_EQ(reread.Check("web1", 22, odd).match, HostKeyMatch::kMatch);
  EXPECT_EQ(reread.Check("web2", 22, newline).match, HostKeyMatch::kMatch);
}

TEST_F(SshKnownHostsTest, AcceptNewSeesWhatAnotherWriterAdded) {
  TempDir dir;
  std::string file = dir / "known_hosts";
  WriteFile(file, "");
  KnownHosts stale = KnownHosts::Parse("", file);  // loaded before the other writer
  KnownHosts other = KnownHosts::Parse("", file);
  ASSERT_TRUE(other.AcceptNew("web1", 22, b_->key).ok());
  Result<HostKeyCheck> r = stale.AcceptNew("web1", 22, a_->key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->match, HostKeyMatch::kMismatch);
  EXPECT_EQ(ReadFile(file), "web1 " + b_->line + "\n");
}

TEST_F(SshKnownHostsTest, ConcurrentAcceptNewWritersLoseNoLine) {
  TempDir dir;
  std::string file = dir / "known_hosts";
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      KnownHosts kh = KnownHosts::Parse("", file);
      for (int j = 0; j < 10; ++j) {
        EXPECT_TRUE(kh.AcceptNew("h" + std::to_string(i * 10 + j), 22, a_->key).ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  Result<KnownHosts> kh = KnownHosts::Load(file);
  ASSERT_TRUE(kh.ok());
  EXPECT_EQ(kh->size(), 80u);
  for (int i = 0; i < 80; ++i) {
    EXPECT_EQ(kh->Check("h" + std::to_string(i), 22, a_->key).match, HostKeyMatch::kMatch);
  }
}

}  // namespace
}  // namespace runbook
