#include "engine/sha256.h"

#include <nettle/sha2.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

namespace runbook {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string Hex(const uint8_t* md, unsigned len) {
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out += kHexDigits[md[i] >> 4];
    out += kHexDigits[md[i] & 15];
  }
  return out;
}

void Digest(std::string_view data, uint8_t (&md)[SHA256_DIGEST_SIZE]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  uint8_t md[SHA256_DIGEST_SIZE];
  Digest(data, md);
  return Hex(md, SHA256_DIGEST_SIZE);
}

bool Sha256Hasher::Matches(std::string_view data, std::string_view expected_hex) {
  if (expected_hex.size() != 2 * SHA256_DIGEST_SIZE) return false;
  uint8_t md[SHA256_DIGEST_SIZE];
  Digest(data, md);
  for (unsigned i = 0; i < SHA256_DIGEST_SIZE; ++i) {
    if (expected_hex[2 * i] != kHexDigits[md[i] >> 4] ||
        expected_hex[2 * i + 1] != kHexDigits[md[i] & 15])
      return false;
  }
  return true;
}

Result<std::string> FileSha256(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Result<std::string>::Error("cannot read " + path.string() + ": " + std::strerror(errno));
  sha256_ctx ctx;
  sha256_init(&ctx);
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    sha256_update(&ctx, static_cast<size_t>(in.gcount()), reinterpret_cast<const uint8_t*>(buf));
    if (in.eof()) break;
  }
  if (in.bad()) return Result<std::string>::Error("cannot read " + path.string());
  uint8_t md[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);
  return Hex(md, SHA256_DIGEST_SIZE);
}

}  // namespace runbook
