// A client key read once per ssh step and used to sign the login of every host.
//
// libssh2's libssh2_userauth_publickey_fromfile() reads and parses the identity file twice per
// login (once for the public key, once to sign), and with OpenSSL 3 each parse first runs the
// key through OpenSSL's generic decoders, which fail on OpenSSH's own format after trying
// every decoder they know: about half of the client's CPU per host in a fan-out (callgrind,
// bench/ssh_fanout_bench.sh). An SshIdentity holds the parsed key instead, and signs through
// libssh2_userauth_publickey()'s callback.
//
// It takes the common case only: an OpenSSH-format ("BEGIN OPENSSH PRIVATE KEY") ed25519 key
// without a passphrase, ssh-keygen's default. Its layout (OpenSSH's PROTOCOL.key):
//
//   "openssh-key-v1\0" string ciphername ("none") string kdfname ("none") string kdfoptions
//   uint32 number of keys (1) string public key blob
//   string private section: uint32 check, uint32 check (equal), string "ssh-ed25519",
//          string public key (32 bytes), string secret key (64 bytes: seed, then public key),
//          string comment, padding 1, 2, 3, ...
//
// Any other key (RSA, ECDSA, one protected by a passphrase, PEM files) is left to libssh2's
// own reading, per host, as before.
#pragma once

#include <memory>
#include <string>
#include <utility>

struct evp_pkey_st;

namespace runbook {

class SshIdentity {
 public:
  /// Reads `path` when it holds a key this class signs with (see above); nullptr otherwise,
  /// also when the file cannot be read (libssh2's path then reports why, per host).
  static std::unique_ptr<SshIdentity> Load(const std::string& path);
  /// Parses the text of such a key file; nullptr when it is not one.
  static std::unique_ptr<SshIdentity> Parse(const std::string& text);
  ~SshIdentity();
  SshIdentity(const SshIdentity&) = delete;
  SshIdentity& operator=(const SshIdentity&) = delete;

  /// The public key blob as the server sees it (string "ssh-ed25519", string key).
  const std::string& public_blob() const { return public_blob_; }
  /// The raw signature of `data` (64 bytes for ed25519), as libssh2 wants it from a sign
  /// callback (it adds the algorithm name); empty on failure. Thread-safe.
  std::string Sign(const unsigned char* data, size_t size) const;

 private:
  SshIdentity(evp_pkey_st* key, std::string public_blob)
      : key_(key), public_blob_(std::move(public_blob)) {}

  evp_pkey_st* key_;  // owned
  std::string public_blob_;
};

}  // namespace runbook
