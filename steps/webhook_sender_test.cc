// The real webhook sender against a real HTTP(S) server on loopback: what it posts, and how a
// server that fails, hangs or cannot be trusted is reported.
#include "steps/webhook_sender.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "testing/http_test_server.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::HttpTestServer;

WebhookPost PostTo(const std::string& url) {
  WebhookPost post;
  post.url = url;
  post.body = R"({"text":"deploy-web: run R succeeded","event":"succeeded"})";
  post.timeout = Duration{2000};
  return post;
}

TEST(WebhookSender, PostsTheJsonBody) {
  HttpTestServer server;
  std::mutex mu;
  std::string body, content_type, method;
  server.server().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    body = req.body;
    content_type = req.get_header_value("Content-Type");
    method = req.method;
    res.set_content("ok", "text/plain");
  });
  ASSERT_TRUE(server.Start());
  std::unique_ptr<WebhookSender> sender = MakeWebhookSender();
  const WebhookResult result = sender->Post(PostTo(server.Url("/hook")));
  EXPECT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.status, 200);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(method, "POST");
  EXPECT_EQ(content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(body)["text"], "deploy-web: run R succeeded");
}

TEST(WebhookSender, ANon2xxAnswerIsAFailure) {
  HttpTestServer server;
  server.server().Post("/hook", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("no", "text/plain");
  });
  ASSERT_TRUE(server.Start());
  const WebhookResult result = MakeWebhookSender()->Post(PostTo(server.Url("/hook")));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(result.error, "HTTP 500");
}

TEST(WebhookSender, AServerThatNeverAnswersTimesOut) {
  testing::SilentListener silent;
  ASSERT_TRUE(silent.ok());
  WebhookPost post = PostTo(silent.Url("/hook"));
  post.timeout = Duration{300};
  const auto start = std::chrono::steady_clock::now();
  const WebhookResult result = MakeWebhookSender()->Post(post);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("timed out after"), std::string::npos) << result.error;
}

TEST(WebhookSender, NothingListeningIsAFailure) {
  testing::SilentListener closed;
  const std::string url = closed.Url("/hook");
  closed.Close();
  const WebhookResult result = MakeWebhookSender()->Post(PostTo(url));
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("cannot connect"), std::string::npos) << result.error;
}

TEST(WebhookSender, TlsIsVerifiedUnlessTheCaIsGiven) {
  testing::TempDir dir("runbook-webhook-test");
  ASSERT_TRUE(testing::MakeSelfSignedCert(dir.path(), "/CN=127.0.0.1", "IP:127.0.0.1"));
  HttpTestServer server(dir / "cert.pem", dir / "key.pem");
  server.server().Post("/hook", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  ASSERT_TRUE(server.Start());
  std::unique_ptr<WebhookSender> sender = MakeWebhookSender();

  const WebhookResult refused = sender->Post(PostTo(server.Url("/hook")));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error.find("TLS: certificate verify failed"), std::string::npos)
      << refused.error;

  WebhookPost trusted = PostTo(server.Url("/hook"));
  trusted.ca_file = dir / "cert.pem";
  const WebhookResult sent = sender->Post(trusted);
  EXPECT_TRUE(sent.ok()) << sent.error;

  WebhookPost insecure = PostTo(server.Url("/hook"));
  insecure.insecure = true;
  EXPECT_TRUE(sender->Post(insecure).ok());
}

}  // namespace
}  // namespace runbook
