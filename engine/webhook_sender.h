// Posting a notification to a webhook (docs/notifications.md). The app layer decides what to
// send and when; the real sender (steps/webhook_sender.h, libcurl with the http action's TLS
// rules) does the I/O, so that the deciding code can be tested without a network.
#pragma once

#include <string>

#include "engine/model.h"

namespace runbook {

/// One POST of a JSON body. Strings hold real values (a secret URL included): nothing here is
/// printed or recorded as it is.
struct WebhookPost {
  std::string url;
  std::string body;  // JSON, sent as application/json
  Duration timeout{5000};
  std::string ca_file;  // empty: the system's CAs
  bool insecure = false;
};

/// What became of a post. ok() when the server answered 2xx.
struct WebhookResult {
  int status = 0;      // the HTTP status; 0: no answer
  std::string error;   // why it failed ("HTTP 500", "timed out after 5s", a TLS error); "" when ok
  Duration latency{0};
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

class WebhookSender {
 public:
  virtual ~WebhookSender() = default;
  /// Posts `post` and waits for the answer, at most post.timeout. Never throws.
  virtual WebhookResult Post(const WebhookPost& post) = 0;
};

}  // namespace runbook
