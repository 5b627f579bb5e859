#include "steps/webhook_sender.h"

#include <algorithm>

#include "steps/http_transfer.h"

namespace runbook {
namespace {

class CurlWebhookSender : public WebhookSender {
 public:
  WebhookResult Post(const WebhookPost& post) override {
    HttpRequest request;
    request.method = "POST";
    request.url = post.url;
    request.headers = {"Content-Type: application/json"};
    request.body = post.body;
    request.timeout = post.timeout;
    // A webhook that cannot be reached within the whole timeout is reported as such.
    request.connect_timeout = std::min(post.timeout, Duration{5000});
    request.max_redirects = 0;  // a redirect would resend the payload elsewhere
    request.ca_file = post.ca_file;
    request.insecure = post.insecure;
    const HttpResponse response = PerformHttpRequest(request, /*cancel_fd=*/-1);
    WebhookResult result;
    result.status = static_cast<int>(response.status);
    result.latency = response.latency;
    if (!response.error.empty()) {
      result.error = response.error;
    } else if (response.status < 200 || response.status >= 300) {
      result.error = "HTTP " + std::to_string(response.status);
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<WebhookSender> MakeWebhookSender() {
  return std::make_unique<CurlWebhookSender>();
}

}  // namespace runbook
