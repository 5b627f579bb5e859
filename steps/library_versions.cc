#include "steps/library_versions.h"

#include <libssh2.h>

#include "steps/curl_api.h"

namespace runbook {

std::string Libssh2Version() {
  const char* v = libssh2_version(0);
  return v ? v : "unknown";
}

std::string LibcurlVersion() {
  Result<const CurlApi*> curl = Curl();
  if (!curl.ok()) return "not loaded (" + curl.message() + ")";
  const curl_version_info_data* info = (*curl)->version_info(CURLVERSION_NOW);
  if (info == nullptr || info->version == nullptr) return "unknown";
  std::string v = info->version;
  if (info->ssl_version != nullptr) v += std::string(" (") + info->ssl_version + ")";
  return v;
}

}  // namespace runbook
