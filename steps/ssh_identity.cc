#include "steps/ssh_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "steps/known_hosts.h"

namespace runbook {
namespace {

constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kMagic("openssh-key-v1\0", 15);
constexpr std::string_view kEd25519 = "ssh-ed25519";

// Reads SSH wire-format fields (RFC 4251 section 5) from a buffer.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U32(uint32_t* v) {
    if (data_.size() < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data());
    *v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    data_.remove_prefix(4);
    return true;
  }
  bool String(std::string_view* s) {
    uint32_t n = 0;
    if (!U32(&n) || data_.size() < n) return false;
    *s = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool Prefix(std::string_view p) {
    if (data_.substr(0, p.size()) != p) return false;
    data_.remove_prefix(p.size());
    return true;
  }

 private:
  std::string_view data_;
};

std::string WireString(std::string_view s) {
  const auto n = static_cast<uint32_t>(s.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(s);
  return out;
}

// Wipes the decoded key material when parsing ends, however it ends.
struct Wiped {
  std::string bytes;
  ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

std::unique_ptr<SshIdentity> SshIdentity::Load(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  Wiped text;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0 && text.bytes.size() < 65536;) {
    text.bytes.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  close(fd);
  return Parse(text.bytes);
}

std::unique_ptr<SshIdentity> SshIdentity::Parse(const std::string& text) {
  const size_t begin = text.find(kBegin);
  const size_t end = text.find(kEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) return nullptr;
  Wiped b64, raw;
  for (size_t i = begin + kBegin.size(); i < end; ++i) {
    const char c = text[i];
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64.bytes += c;
  }
  if (!Base64Decode(b64.bytes, &raw.bytes)) return nullptr;

  Reader r(raw.bytes);
  std::string_view cipher, kdf, kdf_options, public_blob, private_section;
  uint32_t keys = 0;
  if (!r.Prefix(kMagic) || !r.String(&cipher) || !r.String(&kdf) || !r.String(&kdf_options) ||
      !r.U32(&keys) || !r.String(&public_blob) || !r.String(&private_section)) {
    return nullptr;
  }
  if (cipher != "none" || kdf != "none" || keys != 1) return nullptr;  // a passphrase, or more

  Reader p(private_section);
  uint32_t check1 = 0, check2 = 1;
  std::string_view type, pub, secret;
  if (!p.U32(&check1) || !p.U32(&check2) || check1 != check2 || !p.String(&type) ||
      type != kEd25519 || !p.String(&pub) || !p.String(&secret) || pub.size() != 32 ||
      secret.size() != 64 || secret.substr(32) != pub) {
    return nullptr;
  }
  const std::string blob = WireString(kEd25519) + WireString(pub);
  if (public_blob != blob) return nullptr;

  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(secret.data()), 32);
  if (key == nullptr) return nullptr;
  // The public key the seed gives must be the one the file names.
  unsigned char derived[32];
  size_t derived_len = sizeof derived;
  if (EVP_PKEY_get_raw_public_key(key, derived, &derived_len) != 1 || derived_len != 32 ||
      std::string_view(reinterpret_cast<const char*>(derived), 32) != pub) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return std::unique_ptr<SshIdentity>(new SshIdentity(key, blob));
}

SshIdentity::~SshIdentity() { EVP_PKEY_free(key_); }

std::string SshIdentity::Sign(const unsigned char* data, size_t size) const {
  std::string sig(64, '\0');
  size_t len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr &&
                  EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
                  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                                 size) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return "";
  sig.resize(len);
  return sig;
}

}  // namespace runbook
