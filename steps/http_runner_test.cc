// The http action against real servers on 127.0.0.1 started by each test: one that becomes
// healthy after N requests, one that hangs, one that answers 503 then 200, one over TLS with a
// certificate made here, one that redirects. Retries belong to the executor, so the tests call
// Run() once per attempt as the executor would.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "steps/step_runners.h"
#include "testing/fake_step_context.h"
#include "testing/http_test_server.h"

namespace runbook {
namespace {

using namespace std::chrono_literals;
using Outcome = StepResult::Outcome;
using testing::FakeStepContext;
using testing::HttpTestServer;
using testing::SilentListener;

StepSpec HttpStep(HttpAction action, Duration timeout = Duration(5000)) {
  StepSpec step;
  step.id = "health";
  step.phase = Phase::kVerify;
  step.timeout = timeout;
  step.action = std::move(action);
  return step;
}

HttpAction Get(const std::string& url) {
  HttpAction a;
  a.url = url;
  return a;
}

class HttpRunnerTest : public ::testing::Test {
 protected:
  StepResult Run(const StepSpec& step, bool dry_run = false, int attempt = 1) {
    StepRequest request;
    request.step = &step;
    request.phase = step.phase;
    request.attempt = attempt;
    request.dry_run = dry_run;
    return runner_->Run(request, ctx_);
  }

  // Starts `server_` with the handlers registered by the test.
  void StartServer() { ASSERT_TRUE(server_.Start()); }

  std::unique_ptr<StepRunner> runner_ = MakeHttpRunner();
  FakeStepContext ctx_;
  std::atomic<int> hits_{0};  // before server_: its handlers count here until it stops
  HttpTestServer server_;
};

TEST_F(HttpRunnerTest, HealthyGetRecordsStatusLatencyAndBodyHead) {
  server_.server().Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    ++hits_;
    res.set_content("status: ok\n", "text/plain");
  });
  StartServer();
  HttpAction a = Get(server_.Url("/health"));
  a.expect_status = {{200, 200}};
  a.body_contains = "ok";
  StepResult r = Run(HttpStep(a));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(hits_.load(), 1);
  EXPECT_EQ(r.detail["status"], 200);
  EXPECT_EQ(r.detail["method"], "GET");
  EXPECT_EQ(r.detail["url"], server_.Url("/health"));
  EXPECT_EQ(r.detail["body_head"], "status: ok\n");
  EXPECT_EQ(r.detail["body_bytes"], 11);
  EXPECT_TRUE(r.detail["latency_ms"].is_number());
  EXPECT_FALSE(r.detail.contains("error"));
  EXPECT_FALSE(r.detail.contains("insecure"));
  EXPECT_EQ(r.stdout_text, "status: ok\n");
  ASSERT_EQ(ctx_.progress.size(), 1u);
  EXPECT_EQ(ctx_.progress[0].rfind("status 200 in ", 0), 0u) << ctx_.progress[0];
}

TEST_F(HttpRunnerTest, StatusChecksTakeANumberAListOrAClass) {
  server_.server().Get(R"(/code/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    res.status = std::stoi(req.matches[1]);
    res.set_content("x", "text/plain");
  });
  StartServer();
  struct Case {
    int code;
    std::vector<StatusRange> expect;
    const char* error;  // empty: passes
  };
  for (const Case& c : {
           Case{204, {}, ""},
           Case{404, {}, "expected status 2xx, got 404"},
           Case{503, {{200, 200}}, "expected status 200, got 503"},
           Case{204, {{200, 200}, {204, 204}}, ""},
           Case{500, {{200, 200}, {204, 204}}, "expected status 200 or 204, got 500"},
           Case{404, {{200, 299}, {404, 404}}, ""},
           Case{418,
                {{200, 200}, {201, 201}, {300, 399}},
                "expected status 200, 201 or 3xx, got 418"},
       }) {
    HttpAction a = Get(server_.Url("/code/" + std::to_string(c.code)));
    a.expect_status = c.expect;
    StepResult r = Run(HttpStep(a));
    EXPECT_EQ(r.error, c.error) << c.code;
    EXPECT_EQ(r.ok(), std::string(c.error).empty()) << c.code;
    EXPECT_EQ(r.detail["status"], c.code);
    if (!r.ok()) {
      EXPECT_EQ(r.detail["error"], c.error);
    }
  }
}

TEST_F(HttpRunnerTest, ServiceThatAnswers503ThenOkPassesOnTheThirdAttempt) {
  server_.server().Get("/late", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits_ <= 2) {
      res.status = 503;
      res.set_content("warming up", "text/plain");
    } else {
      res.set_content("ok", "text/plain");
    }
  });
  StartServer();
  HttpAction a = Get(server_.Url("/late"));
  a.expect_status = {{200, 200}};
  StepSpec step = HttpStep(a);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    StepResult r = Run(step, false, attempt);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.error, "expected status 200, got 503");
    EXPECT_EQ(r.detail["status"], 503);
    EXPECT_EQ(r.detail["body_head"], "warming up");
  }
  StepResult r = Run(step, false, 3);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(hits_.load(), 3);
}

TEST_F(HttpRunnerTest, ServiceThatBecomesHealthyAfterNRequests) {
  constexpr int kWarmup = 4;
  server_.server().Get("/status", [&](const httplib::Request&, httplib::Response& res) {
    bool up = ++hits_ > kWarmup;
    res.set_content(
        up ? R"({"status":"UP","checks":{"db":"ok"}})" : R"({"status":"STARTING","checks":{}})",
        "application/json");
  });
  StartServer();
  HttpAction a = Get(server_.Url("/status"));
  a.json = {{"$.status", "UP"}, {"$.checks.db", "ok"}};
  StepSpec step = HttpStep(a);
  int attempts = 0;
  StepResult r;
  while (attempts < 10) {
    r = Run(step, false, ++attempts);
    if (r.ok()) break;
    EXPECT_EQ(r.error, "$.status: expected \"UP\", got \"STARTING\"");
  }
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(attempts, kWarmup + 1);
}

TEST_F(HttpRunnerTest, HangingServerTimesOutWithTheStepTimeout) {
  SilentListener hung;
  ASSERT_TRUE(hung.ok());
  auto t0 = std::chrono::steady_clock::now();
  StepResult r = Run(HttpStep(Get(hung.Url("/")), Duration(300)));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_EQ(r.error, "timed out after 300ms");
  EXPECT_EQ(r.detail["error"], "timed out after 300ms");
  EXPECT_FALSE(r.detail.contains("status"));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST_F(HttpRunnerTest, InterruptionStopsTheRequestPromptly) {
  SilentListener hung;
  ASSERT_TRUE(hung.ok());
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    ctx_.cancel.Cancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  StepResult r = Run(HttpStep(Get(hung.Url("/")), Duration(30000)));
  auto took = std::chrono::steady_clock::now() - t0;
  canceller.join();
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_EQ(r.error, "interrupted");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 1500ms);
}

TEST_F(HttpRunnerTest, AnInterruptedRunSendsNothing) {
  server_.server().Get("/", [&](const httplib::Request&, httplib::Response&) { ++hits_; });
  StartServer();
  ctx_.cancel.Cancel();
  StepResult r = Run(HttpStep(Get(server_.Url("/"))));
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_EQ(hits_.load(), 0);
}

TEST_F(HttpRunnerTest, RefusedConnectionSaysSo) {
  SilentListener closed;
  ASSERT_TRUE(closed.ok());
  closed.Close();
  StepResult r = Run(HttpStep(Get(closed.Url("/health"))));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error.rfind("cannot connect: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find(std::to_string(closed.port())), std::string::npos) << r.error;
}

TEST_F(HttpRunnerTest, RedirectsAreFollowedUpToTheLimit) {
  server_.server().Get(
      "/old", [&](const httplib::Request&, httplib::Response& res) { res.set_redirect("/new"); });
  server_.server().Get("/new", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("new home", "text/plain");
  });
  server_.server().Get("/loop", [&](const httplib::Request&, httplib::Response& res) {
    ++hits_;
    res.set_redirect("/loop");
  });
  StartServer();

  HttpAction a = Get(server_.Url("/old"));
  a.body_contains = "new home";
  StepResult r = Run(HttpStep(a));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["redirects"], 1);
  EXPECT_EQ(r.detail["final_url"], server_.Url("/new"));

  HttpAction loop = Get(server_.Url("/loop"));
  loop.max_redirects = 3;
  r = Run(HttpStep(loop));
  EXPECT_EQ(r.error, "more than 3 redirects (max_redirects)");
  EXPECT_EQ(hits_.load(), 4);

  HttpAction no_follow = Get(server_.Url("/old"));
  no_follow.max_redirects = 0;
  r = Run(HttpStep(no_follow));
  EXPECT_EQ(r.error, "expected status 2xx, got 302");
  no_follow.expect_status = {{300, 399}};
  r = Run(HttpStep(no_follow));
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST_F(HttpRunnerTest, BodyContainsAndBodyRegex) {
  server_.server().Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    ++hits_;
    res.set_content("status: degraded\nversion: 1.4.2\n", "text/plain");
  });
  StartServer();
  HttpAction a = Get(server_.Url("/health"));
  a.body_contains = "ok";
  StepResult r = Run(HttpStep(a));
  EXPECT_EQ(r.error, "body does not contain 'ok' (got: 'status: degraded\\nversion: 1.4.2\\n')");

  a.body_contains = "degraded";
  a.body_regex = R"(version: 1\.4\.\d+)";
  r = Run(HttpStep(a));
  EXPECT_TRUE(r.ok()) << r.error;

  a.body_regex = R"(^version: 2\.)";
  r = Run(HttpStep(a));
  EXPECT_EQ(r.error.rfind("body does not match /^version: 2\\./ (got: 'status: degraded", 0), 0u)
      << r.error;

  int before = hits_;
  a.body_regex = "version: (";
  r = Run(HttpStep(a));
  EXPECT_EQ(r.error.rfind("body_regex: invalid regular expression 'version: ('", 0), 0u) << r.error;
  EXPECT_EQ(hits_.load(), before) << "a bad regex is reported before anything is sent";
}

TEST_F(HttpRunnerTest, BodyRegexIsDecidedOnALargeBodyWhateverThePattern) {
  // RE2 (SPEC §5): std::regex recursed per character (stack overflow on 64 KiB) and backtracked
  // exponentially on (a+)+$. The whole kept body (1 MiB) is searched, like body_contains.
  const std::string as(size_t{1} << 20, 'a');
  server_.server().Get("/as", [as](const httplib::Request&, httplib::Response& res) {
    res.set_content(as, "text/plain");
  });
  server_.server().Get("/as-bang", [as](const httplib::Request&, httplib::Response& res) {
    res.set_content(as.substr(0, 50000) + "!", "text/plain");
  });
  server_.server().Get("/late", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(100 << 10, ' ') + "version: 1.4.2\n", "text/plain");
  });
  StartServer();
  struct Case {
    const char* path;
    const char* regex;
    bool matches;
  };
  for (const Case& c : {Case{"/as", "^(a|b)*$", true}, Case{"/as", "(a|b)*c", false},
                        Case{"/as-bang", "^(a+)+$", false}, Case{"/as-bang", "(a+)+!$", true},
                        Case{"/late", R"(version: 1\.4\.\d+)", true}}) {
    HttpAction a = Get(server_.Url(c.path));
    a.body_regex = c.regex;
    StepResult r = Run(HttpStep(a, Duration(20000)));
    if (c.matches) {
      EXPECT_TRUE(r.ok()) << c.path << " " << c.regex << ": " << r.error;
    } else {
      EXPECT_EQ(r.outcome, Outcome::kFailed) << c.path << " " << c.regex;
      EXPECT_EQ(r.error.rfind("body does not match /" + std::string(c.regex) + "/ (got: 'aaaa", 0),
                0u)
          << r.error;
    }
  }
}

TEST_F(HttpRunnerTest, BodyRegexThatRe2CannotCompileSendsNothing) {
  server_.server().Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    ++hits_;
    res.set_content("aa", "text/plain");
  });
  StartServer();
  for (const char* regex : {R"((a)\1)", "(?=a)"}) {
    HttpAction a = Get(server_.Url("/health"));
    a.body_regex = regex;
    StepResult r = Run(HttpStep(a));
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(
        r.error.rfind("body_regex: invalid regular expression '" + std::string(regex) + "': ", 0),
        0u)
        << r.error;
  }
  EXPECT_EQ(hits_.load(), 0);
}

TEST_F(HttpRunnerTest, JsonChecksNameThePathAndWhatWasSeen) {
  server_.server().Get("/health.json", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"DOWN","checks":{"db":"ok"},"items":[{"state":"Running"}],)"
                    R"("replicas":3,"ratio":1.0,"ready":true,"leader":null,"a.b":"dotted"})",
                    "application/json");
  });
  server_.server().Get("/page", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>maintenance</html>", "text/html");
  });
  StartServer();
  struct Case {
    std::vector<std::pair<std::string, nlohmann::json>> json;
    const char* error;
  };
  for (const Case& c : {
           Case{{{"$.checks.db", "ok"},
                 {"$.items[0].state", "Running"},
                 {"$.replicas", 3},
                 {"$.replicas", "3"},
                 {"$.ratio", 1},
                 {"$.ready", true},
                 {"$.leader", nullptr},
                 {"$['a.b']", "dotted"}},
                ""},
           Case{{{"$.status", "UP"}}, "$.status: expected \"UP\", got \"DOWN\""},
           Case{{{"$.checks.cache", "ok"}},
                "$.checks.cache: no such path in the response ($.checks has no member 'cache')"},
           Case{{{"$.items[1].state", "Running"}},
                "$.items[1].state: no such path in the response ($.items has 1 element)"},
           Case{{{"$.replicas", 4}}, "$.replicas: expected 4, got 3"},
           Case{{{"$.ready", false}}, "$.ready: expected false, got true"},
           Case{{{"$.checks", "ok"}}, "$.checks: expected \"ok\", got {\"db\":\"ok\"}"},
           Case{{{"$.items[x]", "ok"}},
                "json: bad JSON path '$.items[x]': expected a number or "
                "a quoted name after '[' (at offset 8)"},
       }) {
    HttpAction a = Get(server_.Url("/health.json"));
    a.json = c.json;
    StepResult r = Run(HttpStep(a));
    EXPECT_EQ(r.error, c.error);
    EXPECT_EQ(r.ok(), std::string(c.error).empty()) << c.error;
  }
  HttpAction page = Get(server_.Url("/page"));
  page.json = {{"$.status", "UP"}};
  StepResult r = Run(HttpStep(page));
  EXPECT_EQ(r.error, "$.status: the response is not JSON (got: '<html>maintenance</html>')");
}

TEST_F(HttpRunnerTest, OutputsTakeTheBodyOrAJsonPath) {
  server_.server().Get("/version", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"version":"1.4.2","build":{"id":42,"tags":["a","b"]}})",
                    "application/json");
  });
  StartServer();
  StepSpec step = HttpStep(Get(server_.Url("/version")));
  step.outputs = {{"raw", "body"},
                  {"version", "$.version"},
                  {"build", "$.build.id"},
                  {"tags", "$.build.tags"},
                  {"text", "stdout"}};
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.outputs["raw"], R"({"version":"1.4.2","build":{"id":42,"tags":["a","b"]}})");
  EXPECT_EQ(r.outputs["version"], "1.4.2");
  EXPECT_EQ(r.outputs["build"], "42");
  EXPECT_EQ(r.outputs["tags"], R"(["a","b"])");
  EXPECT_EQ(r.outputs.count("text"), 0u) << "stdout is the engine's to fill";
  EXPECT_EQ(r.stdout_text, r.outputs["raw"]);

  step.outputs = {{"commit", "$.build.commit"}};
  r = Run(step);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error,
            "output 'commit': $.build.commit: no such path in the response "
            "($.build has no member 'commit')");

  step.outputs = {{"h", "headers"}};
  r = Run(step);
  EXPECT_EQ(r.error.rfind("output 'h': unknown source 'headers'", 0), 0u) << r.error;
}

TEST_F(HttpRunnerTest, PostSendsHeadersAndBodyAndKeepsSecretsOutOfTheRecord) {
  std::string seen_method, seen_token, seen_type, seen_body, seen_query;
  server_.server().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    seen_method = req.method;
    seen_token = req.get_header_value("X-Token");
    seen_type = req.get_header_value("Content-Type");
    seen_body = req.body;
    seen_query = req.get_param_value("token");
    res.set_content("accepted " + req.body, "text/plain");
  });
  StartServer();
  ctx_.secrets = {"s3cret"};
  HttpAction a;
  a.url = server_.Url("/hook?token=s3cret");
  a.method = "post";
  a.headers = {{"X-Token", "s3cret"}, {"Content-Type", "application/json"}};
  a.body = R"({"text":"1.4.2 live","key":"s3cret"})";
  a.body_contains = "nope";
  StepResult r = Run(HttpStep(a));
  EXPECT_EQ(seen_method, "POST");
  EXPECT_EQ(seen_token, "s3cret");
  EXPECT_EQ(seen_type, "application/json");
  EXPECT_EQ(seen_body, a.body);
  EXPECT_EQ(seen_query, "s3cret");
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail["method"], "POST");
  EXPECT_EQ(r.detail["url"], server_.Url("/hook?token=***"));
  EXPECT_EQ(r.detail["body_head"], R"(accepted {"text":"1.4.2 live","key":"***"})");
  EXPECT_EQ(r.detail.dump().find("s3cret"), std::string::npos) << r.detail.dump();
  EXPECT_EQ(r.error.find("s3cret"), std::string::npos) << r.error;
}

TEST_F(HttpRunnerTest, OtherMethodsAreSentAsWritten) {
  std::string seen;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.method + " " + req.body;
    res.status = 204;
  };
  server_.server().Put("/x", record).Patch("/x", record).Delete("/x", record);
  StartServer();
  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    HttpAction a = Get(server_.Url("/x"));
    a.method = method;
    a.body = std::string("v=") + method;
    StepResult r = Run(HttpStep(a));
    EXPECT_TRUE(r.ok()) << method << ": " << r.error;
    EXPECT_EQ(seen, std::string(method) + " v=" + method);
  }
}

TEST_F(HttpRunnerTest, DryRunSendsNothing) {
  server_.server().Get("/", [&](const httplib::Request&, httplib::Response&) { ++hits_; });
  server_.server().Post("/", [&](const httplib::Request&, httplib::Response&) { ++hits_; });
  StartServer();
  ctx_.secrets = {"s3cret"};
  for (const char* method : {"GET", "POST"}) {
    HttpAction a = Get(server_.Url("/?k=s3cret"));
    a.method = method;
    StepResult r = Run(HttpStep(a), /*dry_run=*/true);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.detail["dry_run"], true);
    EXPECT_EQ(r.detail["request"], std::string(method) + " " + server_.Url("/?k=***"));
  }
  EXPECT_EQ(hits_.load(), 0);
}

TEST_F(HttpRunnerTest, LargeAndBinaryBodiesAreCappedAndRecordedAsValidText) {
  std::string big(2 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 0x80);
  big.replace(0, 5, "\xC3\xA9t\xC3\xA9");  // "été", then invalid bytes
  server_.server().Get("/blob", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(big, "application/octet-stream");
  });
  StartServer();
  StepSpec step = HttpStep(Get(server_.Url("/blob")));
  step.outputs = {{"raw", "body"}};
  StepResult r = Run(step);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["body_bytes"], big.size());
  EXPECT_EQ(r.detail["body_truncated"], true);
  std::string head = r.detail["body_head"];
  EXPECT_LE(head.size(), 256u);
  EXPECT_EQ(head.rfind("\xC3\xA9t\xC3\xA9", 0), 0u);
  EXPECT_NO_THROW((void)r.detail.dump());
  EXPECT_EQ(r.outputs["raw"].size(), size_t{1} << 20);
  EXPECT_EQ(r.stdout_text.size(), size_t{64} << 10);

  HttpAction j = Get(server_.Url("/blob"));
  j.json = {{"$.a", 1}};
  r = Run(HttpStep(j));
  EXPECT_EQ(r.error, "$.a: the response is not JSON (only its first 1 MiB is kept)");
  EXPECT_NO_THROW((void)r.detail.dump());
}

TEST_F(HttpRunnerTest, ProxiesComeFromTheEnvironmentAsCurlDoes) {
  // The proxy answers for any URL; the target itself does not exist.
  std::string seen_target;
  server_.server().Get(R"(.*)", [&](const httplib::Request& req, httplib::Response& res) {
    seen_target = req.target;
    res.set_content("via proxy", "text/plain");
  });
  StartServer();
  SilentListener closed;
  closed.Close();
  std::string url = closed.Url("/health");
  ASSERT_EQ(setenv("http_proxy", server_.Url("").c_str(), 1), 0);
  HttpAction a = Get(url);
  a.body_contains = "via proxy";
  StepResult through = Run(HttpStep(a));
  ASSERT_EQ(setenv("no_proxy", "127.0.0.1", 1), 0);
  StepResult bypassed = Run(HttpStep(a));
  unsetenv("http_proxy");
  unsetenv("no_proxy");
  EXPECT_TRUE(through.ok()) << through.error;
  EXPECT_EQ(seen_target, url);
  EXPECT_EQ(bypassed.error.rfind("cannot connect: ", 0), 0u) << bypassed.error;
}

// ---------------------------------------------------------------- TLS

class HttpsTest : public HttpRunnerTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runbook-http-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Makes a certificate and serves /health over TLS with it.
  void StartTls(const std::string& subject, const std::string& alt_names) {
    ASSERT_TRUE(testing::MakeSelfSignedCert(dir_, subject, alt_names));
    tls_ =
        std::make_unique<HttpTestServer>((dir_ / "cert.pem").string(), (dir_ / "key.pem").string());
    tls_->server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    ASSERT_TRUE(tls_->Start());
  }

  std::filesystem::path dir_;
  std::unique_ptr<HttpTestServer> tls_;
};

TEST_F(HttpsTest, AnUntrustedCertificateFailsAndSaysWhy) {
  StartTls("/CN=127.0.0.1", "IP:127.0.0.1");
  StepResult r = Run(HttpStep(Get(tls_->Url("/health"))));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error,
            "TLS: certificate verify failed: self-signed certificate "
            "(set ca_file to trust a private CA)");
  EXPECT_FALSE(r.detail.contains("status"));
}

TEST_F(HttpsTest, CaFileTrustsAPrivateCa) {
  StartTls("/CN=127.0.0.1", "IP:127.0.0.1");
  HttpAction a = Get(tls_->Url("/health"));
  a.ca_file = (dir_ / "cert.pem").string();
  a.body_contains = "ok";
  StepResult r = Run(HttpStep(a));
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["status"], 200);
  EXPECT_FALSE(r.detail.contains("insecure"));
}

TEST_F(HttpsTest, CaFileIsRelativeToTheRunbookFolder) {
  StartTls("/CN=127.0.0.1", "IP:127.0.0.1");
  ctx_.runbook_.dir = dir_.string();
  HttpAction a = Get(tls_->Url("/health"));
  a.ca_file = "cert.pem";
  StepResult r = Run(HttpStep(a));
  EXPECT_TRUE(r.ok()) << r.error;
  a.ca_file = "missing.pem";
  r = Run(HttpStep(a));
  EXPECT_EQ(r.error.rfind("TLS: cannot use ca_file " + (dir_ / "missing.pem").string(), 0), 0u)
      << r.error;
}

TEST_F(HttpsTest, ACertificateForAnotherHostFails) {
  StartTls("/CN=other.example", "DNS:other.example");
  HttpAction a = Get(tls_->Url("/health"));
  a.ca_file = (dir_ / "cert.pem").string();
  StepResult r = Run(HttpStep(a));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.error.rfind("TLS: certificate verify failed: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("127.0.0.1"), std::string::npos) << r.error;
}

TEST_F(HttpsTest, InsecureSkipsVerificationAndSaysSoInTheRecord) {
  StartTls("/CN=127.0.0.1", "IP:127.0.0.1");
  HttpAction a = Get(tls_->Url("/health"));
  a.insecure = true;
  StepResult r = Run(HttpStep(a));
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.detail["insecure"], true);
  r = Run(HttpStep(a), /*dry_run=*/true);
  EXPECT_EQ(r.detail["insecure"], true);
}

}  // namespace
}  // namespace runbook
