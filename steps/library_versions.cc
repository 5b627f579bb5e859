#include "steps/library_versions.h"

#include <curl/curl.h>
#include <libssh2.h>

namespace runbook {

std::string Libssh2Version() {
  const char* v = libssh2_version(0);
  return v ? v : "unknown";
}

std::string LibcurlVersion() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info == nullptr || info->version == nullptr) return "unknown";
  std::string v = info->version;
  if (info->ssl_version != nullptr) v += std::string(" (") + info->ssl_version + ")";
  return v;
}

}  // namespace runbook
