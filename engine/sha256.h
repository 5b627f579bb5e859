// SHA-256 as lower-case hex: the one digest of the project (plan hashes, bound files, the
// audit hash chain, journal records). OpenSSL EVP.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/status.h"

struct evp_md_ctx_st;
struct evp_md_st;

namespace runbook {

/// sha256 of `data` as 64 lower-case hex digits. Returns "" only if OpenSSL fails, which a
/// comparison against a stored hash then reports as a mismatch.
std::string Sha256Hex(std::string_view data);

/// SHA-256 of many inputs one after another (a hash chain's events): the digest is fetched
/// from OpenSSL once and one context serves every input, where Sha256Hex pays for a context
/// per call. Not thread-safe: one per thread.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  /// Whether Sha256Hex(data) is `expected_hex`. False too if OpenSSL fails.
  bool Matches(std::string_view data, std::string_view expected_hex);

 private:
  evp_md_st* md_;
  evp_md_ctx_st* ctx_;
};

/// sha256 of a file's content, read in pieces (a bound file may be large).
Result<std::string> FileSha256(const std::filesystem::path& path);

}  // namespace runbook
