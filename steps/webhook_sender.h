// The real webhook sender: one libcurl POST per notification, with the http action's rules
// (steps/http_transfer.h): TLS verified unless `insecure`, `ca_file` for a private CA,
// proxies from the environment, a whole-request timeout.
#pragma once

#include <memory>

#include "engine/webhook_sender.h"

namespace runbook {

/// Thread-safe: each post has its own handles.
std::unique_ptr<WebhookSender> MakeWebhookSender();

}  // namespace runbook
