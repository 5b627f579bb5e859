// One HTTP request through libcurl, as the http action makes it: whole-request and connect
// timeouts, redirects up to a limit, proxies from the environment (http_proxy, https_proxy,
// no_proxy, ...: curl's own rules), TLS verified unless told otherwise, and an interruption
// descriptor polled next to the transfer's sockets so that a cancelled run stops at once.
#pragma once

#include <string>
#include <vector>

#include "engine/model.h"

namespace runbook {

/// What to send. Strings hold real values (secrets included); nothing here is logged.
struct HttpRequest {
  std::string method = "GET";  // upper case
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when non-empty, and always for POST, PUT, PATCH
  Duration timeout{30000};           // the whole request
  Duration connect_timeout{5000};
  int max_redirects = 5;  // 0: redirects are not followed
  std::string ca_file;    // empty: the system's CAs
  bool insecure = false;  // no certificate or host name verification
};

/// What happened.
struct HttpResponse {
  /// Why there is no response to check; empty when the transfer completed.
  std::string error;
  bool timed_out = false;  // the whole-request timeout expired
  bool cancelled = false;  // cancel_fd became readable
  long status = 0;         // 0: no HTTP response
  std::string body;        // the first kMaxHttpBody bytes, decoded
  size_t body_bytes = 0;   // as received, decoded
  long redirects = 0;
  std::string effective_url;  // after redirects; may hold secrets
  Duration latency{0};
};

/// Bytes of a body kept for checks and outputs; the rest is counted and dropped.
inline constexpr size_t kMaxHttpBody = size_t{1} << 20;

/// Performs `request`, returning early when `cancel_fd` (when >= 0) is readable. Never throws.
/// Thread-safe (each call has its own handles).
HttpResponse PerformHttpRequest(const HttpRequest& request, int cancel_fd);

}  // namespace runbook
