#include "engine/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace runbook {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string Hex(const unsigned char* md, unsigned len) {
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHexDigits[md[i] >> 4];
    out += kHexDigits[md[i] & 15];
  }
  return out;
}

// SHA-256 fetched from the default provider once for the process: EVP_sha256() would have
// OpenSSL 3 look it up again on every digest. Never freed (it lives as long as the process).
const EVP_MD* Sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md ? md : EVP_sha256();
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, Sha256(), nullptr) != 1) return "";
  return Hex(md, len);
}

Sha256Hasher::Sha256Hasher()
    : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

bool Sha256Hasher::Matches(std::string_view data, std::string_view expected_hex) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!md_ || !ctx_ || EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, md, &len) != 1)
    return false;
  if (expected_hex.size() != 2 * static_cast<size_t>(len)) return false;
  for (unsigned i = 0; i < len; ++i) {
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
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), Sha256(), nullptr);
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(in.gcount()));
    if (in.eof()) break;
  }
  if (in.bad()) return Result<std::string>::Error("cannot read " + path.string());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return Hex(md, len);
}

}  // namespace runbook
