#include "audit/hash_chain.h"

#include <openssl/evp.h>

namespace runbook {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(static_cast<size_t>(length) * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

std::string CanonicalJson(const nlohmann::json& value) {
  // nlohmann::json keeps object keys in a std::map, so dump() already sorts them.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<nlohmann::json> ParseStoredJson(std::string_view text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string CanonicalEvent(const StoredEvent& event) {
  nlohmann::json j = nlohmann::json::object();
  j["seq"] = event.seq;
  j["run_id"] = event.run_id;
  j["ts"] = event.ts;
  j["event"] = event.event;
  j["phase"] = event.phase;
  j["step"] = event.step;
  j["from"] = event.from;
  j["to"] = event.to;
  j["attempt"] = event.attempt;
  j["detail"] = event.detail;
  return CanonicalJson(j);
}

std::string ChainHash(std::string_view prev_hash, const StoredEvent& event) {
  std::string input(prev_hash);
  input += CanonicalEvent(event);
  return Sha256Hex(input);
}

}  // namespace runbook
