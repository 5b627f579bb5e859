// OpenSSH known_hosts files: the host keys an SSH step trusts.
//
// Format (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"), one entry a line:
//
//   [@marker] hostnames keytype base64-key [comment]
//
// - Blank lines and lines starting with '#' are ignored; so are lines we cannot parse (OpenSSH
//   does the same), and `@cert-authority` lines (certificates are not supported).
// - `@revoked` marks a key that must never be accepted, whatever host offers it.
// - `hostnames` is a comma-separated list of patterns. A host on port 22 is matched by its
//   name; on any other port by `[name]:port`. `*` and `?` are wildcards, a pattern starting
//   with `!` excludes, and matching ignores case.
// - A hashed entry `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` hides the name; it matches
//   when the HMAC of the name we look for is the same.
// - The key is compared as the raw public key blob; its type is the first string of the blob.
//
// accept-new appends `name keytype base64` lines (plain, not hashed) under an exclusive
// flock(2), after re-reading the file under that lock, with one write(2) in O_APPEND mode
// followed by fsync(2), so concurrent runs neither lose nor duplicate entries.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/status.h"

namespace runbook {

/// A server's public host key: the raw blob as sent in the SSH handshake.
struct HostKey {
  std::string blob;
  /// The key type named inside the blob ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"), or
  /// "unknown" when there is no name of printable ASCII without spaces there.
  std::string Type() const;
  /// "SHA256:..." as ssh-keygen -l prints it.
  std::string Fingerprint() const;
  /// The base64 of the blob, as written in known_hosts.
  std::string Base64() const;
};

/// How a host's key compares with known_hosts.
enum class HostKeyMatch {
  kMatch,     // an entry for this host has exactly this key
  kUnknown,   // no entry names this host
  kMismatch,  // entries name this host, none with this key
  kRevoked,   // an @revoked entry has this key
};

/// The result of a lookup, with a line for humans when the key is not accepted.
struct HostKeyCheck {
  HostKeyMatch match = HostKeyMatch::kUnknown;
  std::string message;  // empty for kMatch
};

/// The known_hosts name of a host: "name" on port 22, "[name]:port" otherwise.
std::string KnownHostsName(std::string_view host, int port);

/// The entries of one known_hosts file, held in memory. Not thread-safe.
class KnownHosts {
 public:
  /// Parses the text of a known_hosts file. `path` is used in messages only.
  static KnownHosts Parse(std::string_view text, std::string path = "known_hosts");
  /// Reads `path`. A missing file is an empty list, not an error.
  static Result<KnownHosts> Load(const std::string& path);

  const std::string& path() const { return path_; }
  size_t size() const { return entries_.size(); }

  /// Looks `key` up for `host` on `port`.
  HostKeyCheck Check(std::string_view host, int port, const HostKey& key) const;

  /// The key types known for the host, in file order and without repeats, so that key
  /// exchange can ask the server for a key we can check.
  std::vector<std::string> KnownTypes(std::string_view host, int port) const;

  /// For accept-new: records `key` for the host in the file (creating the file and its folder
  /// when missing) unless the file, re-read under an exclusive lock, already decides the host.
  /// Returns the check against the file as it stood under the lock: kUnknown means the key
  /// was appended; kMatch means another writer had already added it; kMismatch and kRevoked
  /// mean nothing was written. The in-memory entries are refreshed from the file.
  Result<HostKeyCheck> AcceptNew(std::string_view host, int port, const HostKey& key);

 private:
  struct Entry {
    enum class Marker { kNone, kRevoked };
    Marker marker = Marker::kNone;
    std::vector<std::string> patterns;  // lower-cased; empty when hashed
    std::string salt;                   // hashed entries: raw salt and HMAC
    std::string hash;
    std::string type;                   // as written in the file
    std::string blob;                   // decoded key
    int line = 0;
  };

  bool Names(const Entry& entry, const std::string& name) const;
  static bool ParseLine(std::string_view line, Entry* entry);
  void Index(size_t i);
  /// The indexes of the entries that may name `name`, in file order.
  std::vector<size_t> Candidates(const std::string& name) const;

  std::string path_;
  std::vector<Entry> entries_;
  // Entries whose patterns are all plain names (no wildcard, negation or hash), by name; every
  // other entry is matched pattern by pattern. A fleet of N hosts then looks each host up
  // without scanning N lines.
  std::unordered_map<std::string, std::vector<size_t>> by_name_;
  std::vector<size_t> scanned_;
};

/// Base64 helpers (standard alphabet, padded). Decode returns false on bad input.
std::string Base64Encode(std::string_view data);
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace runbook
