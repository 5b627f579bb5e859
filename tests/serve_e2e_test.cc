// `runbook serve` at the HTTP level (docs/serve.md): the built binary serving a real audit
// database on loopback, driven by a plain HTTP client, for every refusal the issue names (no
// session, a wrong CSRF token, self-approval, someone off the approvers list, a plan that can
// no longer be approved), the login throttle, the cookies' attributes with and without TLS,
// the listening rules, the proxy-header identity, signed approvals pasted into the page, and
// that no secret and no markup from the log reaches a page unescaped. Each refusal must also
// be in the audit log. What a browser shows is tests/serve_browser_test.py.
#include <gtest/gtest.h>
#include <httplib.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"
#include "tests/e2e_util.h"

namespace {

using nlohmann::json;
using runbook::testing::Quote;
using runbook::testing::Slurp;
using runbook::testing::TempDir;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A `runbook serve` process of the test's own, on a free loopback port.
class ServeProcess {
 public:
  ServeProcess(const TempDir& dir, const std::string& args) : log_(dir / "serve.log") {
    const std::string bin = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    const std::string cmd = "cd " + Quote(dir.path()) + " && exec " + Quote(bin) +
                            " serve --audit-db " + Quote(dir / "audit.db") + " " + args + " >" +
                            Quote(log_) + " 2>&1 </dev/null";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0 && !exited_; ++i) {
      const std::string text = Slurp(log_);
      // "runbook serve: listening on http://HOST:PORT/ (...)"
      const size_t at = text.find("listening on ");
      const size_t slash = at == std::string::npos ? at : text.find("/ (", at);
      if (slash != std::string::npos) port_ = std::atoi(text.c_str() + text.rfind(':', slash) + 1);
      int status = 0;
      if (port_ == 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (port_ == 0 && !exited_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~ServeProcess() {
    if (!exited_) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  int port() const { return port_; }
  bool exited() const { return exited_; }
  int exit_code() const { return exit_code_; }
  std::string log() const { return Slurp(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

constexpr char kRunbook[] = R"(runbook: web-release
environment: production
approval:
  required: 1
  approvers: [paula, bob, alice]
  team: team.yaml
  rules:
    - role: pm
      required: 1
      when: {environment: production}
secrets:
  token: {env: WEB_TOKEN}
steps:
  - id: deploy
    shell: {command: "echo deploying with {{ secrets.token }}"}
)";

class ServeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write(dir_ / "team.yaml", "pm: [paula]\n");
    Write(dir_ / "rb.yaml", kRunbook);
    for (const char* name : {"paula", "bob", "alice", "mallory"}) AddUser(name);
  }

  void AddUser(const std::string& name) {
    auto out = Runbook("serve passwd " + name + " --users users", "pw-" + name + "-secret");
    ASSERT_EQ(out.code, 0) << out.text;
  }

  // `runbook ARGS` in the test's folder, on its audit database, with `input` on stdin.
  runbook::testing::Output Runbook(const std::string& args, const std::string& input = "") {
    const std::string bin = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
    return Sh("printf '%s\\n' " + Quote(input) + " | " + Quote(bin) + " " + args);
  }

  // `command` run by sh in the test's folder, with its environment; stdout and stderr.
  runbook::testing::Output Sh(const std::string& command) {
    const std::string cmd = "cd " + Quote(dir_.path()) +
                            " && export RUNBOOK_AUDIT_DB=" + Quote(dir_ / "audit.db") +
                            " NO_COLOR=1 WEB_TOKEN=s3cr3t-t0ken && " + command + " 2>&1";
    runbook::testing::Output out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
    const int status = pclose(p);
    out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

  std::string MakePlan(const std::string& requester = "alice") {
    auto out = Runbook("plan rb.yaml --as " + requester + " --json");
    EXPECT_EQ(out.code, 0) << out.text;
    const size_t brace = out.text.find('{');
    if (brace == std::string::npos) return "";
    return json::parse(out.text.substr(brace), nullptr, false).value("plan_id", "");
  }

  json PlanJson(const std::string& plan_id) {
    auto out = Runbook("plans show " + plan_id + " --json");
    return json::parse(out.text.substr(out.text.find('{')), nullptr, false);
  }

  // The web_action events of the audit log.
  std::vector<json> WebActions() {
    auto out = Runbook("audit export --format jsonl");
    std::vector<json> actions;
    std::istringstream lines(out.text);
    for (std::string line; std::getline(lines, line);) {
      json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == "web_action") actions.push_back(e["detail"]);
    }
    return actions;
  }
  bool Recorded(const std::string& action, const std::string& outcome, const std::string& user,
                const std::string& reason_part = "") {
    for (const json& a : WebActions())
      if (a.value("action", "") == action && a.value("outcome", "") == outcome &&
          a.value("user", "") == user &&
          a.value("reason", "").find(reason_part) != std::string::npos)
        return true;
    return false;
  }

  void Start(const std::string& args = "--users users --listen 127.0.0.1:0") {
    server_ = std::make_unique<ServeProcess>(dir_, args);
    ASSERT_GT(server_->port(), 0) << server_->log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  struct Login {
    std::string cookie;  // "rb_session=..."
    std::string csrf;
    int status = 0;
  };
  static std::string CookieFrom(const httplib::Result& r, const std::string& name) {
    for (auto it = r->headers.lower_bound("Set-Cookie"); it != r->headers.upper_bound("Set-Cookie");
         ++it) {
      if (it->second.rfind(name + "=", 0) == 0) return it->second.substr(0, it->second.find(';'));
    }
    return "";
  }
  Login LogIn(httplib::Client& c, const std::string& name, const std::string& password) {
    Login out;
    auto form = c.Get("/login", {{"Accept", "application/json"}});
    if (!form) return out;
    const std::string login_cookie = CookieFrom(form, "rb_login");
    const std::string token = json::parse(form->body).value("csrf", "");
    auto r = c.Post("/login", {{"Accept", "application/json"}, {"Cookie", login_cookie}},
                    httplib::Params{{"name", name}, {"password", password}, {"csrf", token}});
    if (!r) return out;
    out.status = r->status;
    out.cookie = CookieFrom(r, "rb_session");
    if (r->status == 200) out.csrf = json::parse(r->body).value("csrf", "");
    return out;
  }
  Login LogIn(const std::string& name) { return LogIn(*client_, name, "pw-" + name + "-secret"); }

  httplib::Result Post(const Login& who, const std::string& path, httplib::Params params,
                       bool with_csrf = true) {
    if (with_csrf) params.emplace("csrf", who.csrf);
    httplib::Headers h = {{"Accept", "application/json"}};
    if (!who.cookie.empty()) h.emplace("Cookie", who.cookie);
    return client_->Post(path.c_str(), h, params);
  }
  httplib::Result GetJson(const Login& who, const std::string& path) {
    httplib::Headers h = {{"Accept", "application/json"}};
    if (!who.cookie.empty()) h.emplace("Cookie", who.cookie);
    return client_->Get(path.c_str(), h);
  }

  TempDir dir_{"runbook-serve"};
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServeE2eTest, EveryPageButLoginNeedsASession) {
  Start();
  const std::string plan = MakePlan();
  for (const std::string& path :
       std::vector<std::string>{"/", "/plans", "/plans/" + plan, "/runs", "/runs/x",
                                "/runs/x/report", "/stats", "/no-such-page"}) {
    auto j = client_->Get(path.c_str(), {{"Accept", "application/json"}});
    ASSERT_TRUE(j) << path;
    EXPECT_EQ(j->status, 401) << path;
    EXPECT_NE(j->body.find("log in first"), std::string::npos) << path << ": " << j->body;
    auto h = client_->Get(path.c_str());
    ASSERT_TRUE(h) << path;
    EXPECT_EQ(h->status, 303) << path;
    EXPECT_EQ(h->get_header_value("Location").rfind("/login?next=", 0), 0u) << path;
  }
  auto login = client_->Get("/login");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200);
  EXPECT_NE(login->body.find("name=\"password\""), std::string::npos);
  auto css = client_->Get("/static/style.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  // A forged or stale cookie is no session.
  auto forged = client_->Get("/", {{"Accept", "application/json"}, {"Cookie", "rb_session=00ff"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
}

TEST_F(ServeE2eTest, ActionsWithoutASessionAreRefusedAndRecorded) {
  Start();
  const std::string plan = MakePlan();
  Login nobody;
  for (const char* what : {"approve", "reject"}) {
    auto r = Post(nobody, "/plans/" + plan + "/" + what, {{"comment", "drive-by"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << what;
    EXPECT_TRUE(Recorded(what, "refused", "", "log in first")) << what;
  }
  EXPECT_EQ(PlanJson(plan).value("status", ""), "pending");
}

TEST_F(ServeE2eTest, AWrongCsrfTokenIsRefusedAndRecorded) {
  Start();
  const std::string plan = MakePlan();
  Login paula = LogIn("paula");
  ASSERT_EQ(paula.status, 200);
  Login forged = paula;
  forged.csrf = std::string(64, 'a');
  auto r = Post(forged, "/plans/" + plan + "/approve", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  auto missing = Post(paula, "/plans/" + plan + "/approve", {}, /*with_csrf=*/false);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 403);
  EXPECT_EQ(PlanJson(plan).value("status", ""), "pending");
  EXPECT_TRUE(Recorded("approve", "refused", "paula", "CSRF"));
  // The same session with its own token succeeds: the refusal was the token's.
  auto ok = Post(paula, "/plans/" + plan + "/approve", {{"comment", "ship it"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(ServeE2eTest, ApprovalIsStoredAsTheCommandLineStoresIt) {
  Start();
  const std::string plan = MakePlan();
  Login paula = LogIn("paula");
  auto r = Post(paula, "/plans/" + plan + "/approve", {{"comment", "looks right"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json page = json::parse(r->body);
  EXPECT_EQ(page.value("status", ""), "approved");
  ASSERT_EQ(page["rules"].size(), 1u);
  EXPECT_TRUE(page["rules"][0].value("met", false));
  json cli = PlanJson(plan);
  EXPECT_EQ(cli.value("status", ""), "approved");
  EXPECT_EQ(cli["approved_by"], json::array({"paula"}));
  ASSERT_EQ(cli["decisions"].size(), 1u);
  EXPECT_EQ(cli["decisions"][0].value("comment", ""), "looks right");
  EXPECT_TRUE(Recorded("approve", "ok", "paula"));
  EXPECT_TRUE(Recorded("login", "ok", "paula"));
  // The plan runs, as approved from the command line would.
  auto run = Runbook("run rb.yaml --plan " + plan);
  EXPECT_EQ(run.code, 0) << run.text;
}

TEST_F(ServeE2eTest, TheRequesterCannotApproveTheirOwnPlan) {
  Start();
  const std::string plan = MakePlan("alice");
  Login alice = LogIn("alice");
  auto r = Post(alice, "/plans/" + plan + "/approve", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("another approver must"), std::string::npos) << r->body;
  EXPECT_EQ(PlanJson(plan).value("status", ""), "pending");
  EXPECT_TRUE(Recorded("approve", "refused", "alice", "requested"));
  // The plan page tells them before they try.
  auto page = client_->Get(("/plans/" + plan).c_str(), {{"Cookie", alice.cookie}});
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("You requested this plan"), std::string::npos);
}

TEST_F(ServeE2eTest, SomeoneOffTheApproversListIsRefused) {
  Start();
  const std::string plan = MakePlan();
  Login mallory = LogIn("mallory");
  ASSERT_EQ(mallory.status, 200);
  auto r = Post(mallory, "/plans/" + plan + "/approve", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("approvers"), std::string::npos) << r->body;
  auto reject = Post(mallory, "/plans/" + plan + "/reject", {{"comment", "no"}});
  ASSERT_TRUE(reject);
  EXPECT_EQ(reject->status, 403);
  EXPECT_EQ(PlanJson(plan).value("status", ""), "pending");
  EXPECT_TRUE(Recorded("approve", "refused", "mallory"));
  EXPECT_TRUE(Recorded("reject", "refused", "mallory"));
}

TEST_F(ServeE2eTest, AnApproverOutsideTheRuleRoleDoesNotMeetTheRule) {
  Start();
  const std::string plan = MakePlan();
  Login bob = LogIn("bob");  // an approver, but not in the pm role
  auto r = Post(bob, "/plans/" + plan + "/approve", {});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json page = json::parse(r->body);
  EXPECT_EQ(page.value("status", ""), "pending");
  EXPECT_FALSE(page["rules"][0].value("met", true));
  EXPECT_EQ(Runbook("run rb.yaml --plan " + plan).code, 4);  // refused: the rule is unmet
}

TEST_F(ServeE2eTest, APlanThatCanNoLongerRunCannotBeApproved) {
  Start();
  // Pruned for its age: expired.
  const std::string old_plan = MakePlan();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto pruned = Runbook("plans prune --older-than 1s --as ops");
  ASSERT_EQ(pruned.code, 0) << pruned.text;
  Login paula = LogIn("paula");
  auto r = Post(paula, "/plans/" + old_plan + "/approve", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("pruned"), std::string::npos) << r->body;
  // Used up by a run that succeeded.
  const std::string plan = MakePlan();
  ASSERT_EQ(Post(paula, "/plans/" + plan + "/approve", {})->status, 200);
  ASSERT_EQ(Runbook("run rb.yaml --plan " + plan).code, 0);
  Login bob = LogIn("bob");
  auto again = Post(bob, "/plans/" + plan + "/approve", {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 403);
  EXPECT_NE(again->body.find("used up"), std::string::npos) << again->body;
  // Rejected.
  const std::string third = MakePlan();
  auto no_comment = Post(paula, "/plans/" + third + "/reject", {});
  ASSERT_TRUE(no_comment);
  EXPECT_EQ(no_comment->status, 400);
  ASSERT_EQ(Post(paula, "/plans/" + third + "/reject", {{"comment", "wrong window"}})->status, 200);
  auto after = Post(bob, "/plans/" + third + "/approve", {});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 403);
  EXPECT_NE(after->body.find("rejected"), std::string::npos);
  EXPECT_TRUE(Recorded("reject", "ok", "paula"));
}

TEST_F(ServeE2eTest, LoginsAreThrottledAndFailuresRecorded) {
  Start();
  for (int i = 0; i < 5; ++i) {
    Login wrong = LogIn(*client_, "bob", "not-the-password");
    EXPECT_EQ(wrong.status, 401) << i;
    EXPECT_TRUE(wrong.cookie.empty());
  }
  // The sixth try is refused even with the right password, and says when to come back.
  auto form = client_->Get("/login", {{"Accept", "application/json"}});
  auto r = client_->Post("/login",
                         {{"Accept", "application/json"}, {"Cookie", CookieFrom(form, "rb_login")}},
                         httplib::Params{{"name", "bob"},
                                         {"password", "pw-bob-secret"},
                                         {"csrf", json::parse(form->body).value("csrf", "")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  EXPECT_TRUE(CookieFrom(r, "rb_session").empty());
  int failures = 0;
  for (const json& a : WebActions())
    if (a.value("action", "") == "login" && a.value("outcome", "") == "refused") ++failures;
  EXPECT_EQ(failures, 6);
  // An unknown name fails the same way.
  Login ghost = LogIn(*client_, "ghost", "whatever-password");
  EXPECT_NE(ghost.status, 200);
  // A login form that did not come from the server is refused.
  auto no_token =
      client_->Post("/login", {{"Accept", "application/json"}},
                    httplib::Params{{"name", "paula"}, {"password", "pw-paula-secret"}});
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 403);
}

TEST_F(ServeE2eTest, SessionCookiesAreHttpOnlyAndSameSiteStrict) {
  Start();
  auto form = client_->Get("/login", {{"Accept", "application/json"}});
  auto r = client_->Post("/login", {{"Cookie", CookieFrom(form, "rb_login")}},
                         httplib::Params{{"name", "paula"},
                                         {"password", "pw-paula-secret"},
                                         {"csrf", json::parse(form->body).value("csrf", "")},
                                         {"next", "//evil.example/"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/");  // no open redirect
  std::string cookie;
  for (auto it = r->headers.lower_bound("Set-Cookie"); it != r->headers.upper_bound("Set-Cookie");
       ++it)
    if (it->second.rfind("rb_session=", 0) == 0) cookie = it->second;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
  auto page = client_->Get("/", {{"Cookie", cookie.substr(0, cookie.find(';'))}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  // Logging out ends the session.
  Login paula = LogIn("paula");
  ASSERT_EQ(Post(paula, "/logout", {})->status, 200);
  EXPECT_EQ(GetJson(paula, "/")->status, 401);
}

TEST_F(ServeE2eTest, UnderTlsTheCookieIsSecure) {
  const std::string cert = dir_ / "cert.pem", key = dir_ / "key.pem";
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                         "-keyout " +
                         Quote(key) + " -out " + Quote(cert) + " >/dev/null 2>&1")
                            .c_str()),
            0);
  // TLS lets it listen beyond loopback; the test still talks to it on loopback.
  ServeProcess server(dir_,
                      "--users users --listen 0.0.0.0:0 --tls-cert cert.pem --tls-key key.pem");
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_NE(server.log().find("https://"), std::string::npos);
  httplib::SSLClient tls("127.0.0.1", server.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  auto form = tls.Get("/login", {{"Accept", "application/json"}});
  ASSERT_TRUE(form) << httplib::to_string(form.error());
  auto r =
      tls.Post("/login", {{"Accept", "application/json"}, {"Cookie", CookieFrom(form, "rb_login")}},
               httplib::Params{{"name", "paula"},
                               {"password", "pw-paula-secret"},
                               {"csrf", json::parse(form->body).value("csrf", "")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  bool secure = false;
  for (auto it = r->headers.lower_bound("Set-Cookie"); it != r->headers.upper_bound("Set-Cookie");
       ++it)
    if (it->second.rfind("rb_session=", 0) == 0)
      secure = it->second.find("; Secure") != std::string::npos;
  EXPECT_TRUE(secure);
}

TEST_F(ServeE2eTest, ListeningBeyondLoopbackNeedsTlsOrInsecure) {
  auto plain = Runbook("serve --users users --listen 0.0.0.0:0");
  EXPECT_EQ(plain.code, 2);
  EXPECT_NE(plain.text.find("--tls-cert"), std::string::npos) << plain.text;
  auto proxy = Runbook("serve --trust-proxy-header X-Remote-User --listen 0.0.0.0:0 --insecure");
  EXPECT_EQ(proxy.code, 2);
  EXPECT_NE(proxy.text.find("loopback"), std::string::npos) << proxy.text;
  auto half = Runbook("serve --users users --tls-cert x.pem");
  EXPECT_EQ(half.code, 2);
  auto nobody = Runbook("serve --users missing-users --listen 127.0.0.1:0");
  EXPECT_NE(nobody.code, 0);
  EXPECT_NE(nobody.text.find("serve passwd"), std::string::npos) << nobody.text;
  auto bad = Runbook("serve --users users --listen nowhere");
  EXPECT_EQ(bad.code, 2);
  // --insecure is the explicit way out.
  ServeProcess insecure(dir_, "--users users --listen 0.0.0.0:0 --insecure");
  EXPECT_GT(insecure.port(), 0) << insecure.log();
}

TEST_F(ServeE2eTest, AProxyHeaderNamesTheUserOnLoopback) {
  Start("--trust-proxy-header X-Remote-User --listen 127.0.0.1:0");
  const std::string plan = MakePlan();
  auto none = client_->Get("/", {{"Accept", "application/json"}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto page = client_->Get("/", {{"Accept", "application/json"}, {"X-Remote-User", "Paula"}});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  json overview = json::parse(page->body);
  EXPECT_EQ(overview.value("user", ""), "paula");
  Login paula{CookieFrom(page, "rb_session"), overview.value("csrf", ""), 200};
  httplib::Headers h = {{"Accept", "application/json"},
                        {"X-Remote-User", "paula"},
                        {"Cookie", paula.cookie},
                        {"X-CSRF-Token", paula.csrf}};
  auto r = client_->Post(("/plans/" + plan + "/approve").c_str(), h, httplib::Params{});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // The session is bound to the name: another name with paula's cookie and token is not paula.
  h = {{"Accept", "application/json"},
       {"X-Remote-User", "bob"},
       {"Cookie", paula.cookie},
       {"X-CSRF-Token", paula.csrf}};
  auto as_bob = client_->Post(("/plans/" + plan + "/approve").c_str(), h, httplib::Params{});
  ASSERT_TRUE(as_bob);
  EXPECT_EQ(as_bob->status, 403);
}

TEST_F(ServeE2eTest, SecretsAndMarkupFromTheLogAreNeverRendered) {
  Start();
  const std::string plan = MakePlan();
  Login paula = LogIn("paula");
  ASSERT_EQ(Post(paula, "/plans/" + plan + "/approve", {})->status, 200);
  auto run = Runbook("run rb.yaml --plan " + plan + " --json");
  ASSERT_EQ(run.code, 0) << run.text;
  json runs = json::parse(Runbook("runs --json --runbook web-release").text);
  const std::string run_id = runs[0].value("run_id", "");
  for (const std::string& path :
       std::vector<std::string>{"/runs/" + run_id, "/runs/" + run_id + "/report", "/runs", "/"}) {
    auto html = client_->Get(path.c_str(), {{"Cookie", paula.cookie}});
    ASSERT_TRUE(html);
    EXPECT_EQ(html->status, 200) << path;
    EXPECT_EQ(html->body.find("s3cr3t-t0ken"), std::string::npos) << path;
    auto j = GetJson(paula, path);
    EXPECT_EQ(j->body.find("s3cr3t-t0ken"), std::string::npos) << path;
  }
  // A comment is whatever the reviewer typed: shown as text, never as markup.
  const std::string other = MakePlan();
  ASSERT_EQ(Post(paula, "/plans/" + other + "/reject",
                 {{"comment", "<script>alert(1)</script><img src=x onerror=alert(2)>"}})
                ->status,
            200);
  auto page = client_->Get(("/plans/" + other).c_str(), {{"Cookie", paula.cookie}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->body.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page->body.find("<img src=x"), std::string::npos);
  EXPECT_NE(page->body.find("&lt;script&gt;alert(1)"), std::string::npos);
}

TEST_F(ServeE2eTest, StatsCountTheRunsOfTheLogFromTheFirstRequest) {
  // A run before the server starts: its startup computation of /stats must count it, and a
  // request that comes before that computation ends must not get an empty report.
  Write(dir_ / "plain.yaml", "runbook: plain\nsteps:\n  - id: a\n    shell: {command: \"true\"}\n");
  ASSERT_EQ(Runbook("run plain.yaml").code, 0);
  Start();
  Login paula = LogIn("paula");
  auto r = GetJson(paula, "/stats");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).value("runs", -1), 1) << r->body;
  auto page = client_->Get("/stats", {{"Cookie", paula.cookie}});
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<td>plain</td>"), std::string::npos);
}

TEST_F(ServeE2eTest, StatsPastTheirAgeAreShownWhileTheNextComputationRuns) {
  Write(dir_ / "plain.yaml", "runbook: plain\nsteps:\n  - id: a\n    shell: {command: \"true\"}\n");
  ASSERT_EQ(Runbook("run plain.yaml").code, 0);
  Start("--users users --listen 127.0.0.1:0 --stats-max-age 1");
  Login paula = LogIn("paula");
  bool updating = false;
  auto runs = [&] {
    auto r = GetJson(paula, "/stats");
    if (!r || r->status != 200) return -1;
    json j = json::parse(r->body);
    updating = j.value("updating", false);
    return j.value("runs", -1);
  };
  ASSERT_EQ(runs(), 1);
  ASSERT_EQ(Runbook("run plain.yaml").code, 0);
  // Past its age, the last computation is still the answer (nobody waits for the log to be
  // read), marked as updating; the request starts the next one, whose answer follows.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto page = client_->Get("/stats", {{"Cookie", paula.cookie}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->get_header_value("Refresh"), "1");  // the browser asks again by itself
  EXPECT_NE(page->body.find("id=\"stats-updating\""), std::string::npos);
  EXPECT_NE(page->body.find("<td>plain</td><td>plain</td><td>1</td>"), std::string::npos)
      << page->body;  // the one run counted before
  int seen = 1;
  for (int i = 0; i < 100 && (seen != 2 || updating); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = runs();
  }
  EXPECT_EQ(seen, 2);
  EXPECT_FALSE(updating);
  page = client_->Get("/stats", {{"Cookie", paula.cookie}});
  ASSERT_TRUE(page);
  EXPECT_FALSE(page->has_header("Refresh"));
  // The JSON says so too.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(runs(), 2);
  EXPECT_TRUE(updating);
}

TEST_F(ServeE2eTest, SignedApprovalsArePastedAndVerified) {
  for (const char* who : {"paula", "bob"})
    ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -C " + std::string(who) + " -f " +
                           Quote(dir_ / (std::string(who) + "_key")) + " >/dev/null")
                              .c_str()),
              0);
  Write(dir_ / "allowed_signers",
        "paula " + Slurp(dir_ / "paula_key.pub") + "bob " + Slurp(dir_ / "bob_key.pub"));
  std::string text = kRunbook;
  text.replace(text.find("  team: team.yaml"), 0, "  allowed_signers: allowed_signers\n");
  Write(dir_ / "rb.yaml", text);
  Start();
  const std::string plan = MakePlan();
  const std::string hash = PlanJson(plan).value("hash", "");
  ASSERT_EQ(hash.size(), 64u);
  Login paula = LogIn("paula");
  auto page = client_->Get(("/plans/" + plan).c_str(), {{"Cookie", paula.cookie}});
  EXPECT_NE(page->body.find("printf %s " + hash +
                            " | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 "
                            "-n runbook-plan"),
            std::string::npos);
  auto sign = [&](const std::string& key) {
    return Sh("{ printf %s " + hash + " | ssh-keygen -Y sign -f " + Quote(dir_ / key) +
              " -n runbook-plan 2>/dev/null; }")
        .text;
  };
  // Unsigned, and signed with another approver's key: refused.
  auto unsigned_r = Post(paula, "/plans/" + plan + "/approve", {});
  EXPECT_EQ(unsigned_r->status, 403);
  EXPECT_NE(unsigned_r->body.find("signed approvals"), std::string::npos);
  auto wrong = Post(paula, "/plans/" + plan + "/approve", {{"signature", sign("bob_key")}});

  EXPECT_EQ(wrong->status, 403) << wrong->body;
  EXPECT_EQ(PlanJson(plan).value("status", ""), "pending");
  // Her own signature, uploaded as a file (the page's file input), with the CRLF line ends and
  // blank lines a browser or an editor may add: approved, stored signed as ssh-keygen wrote
  // it, and `run` verifies it again.
  std::string crlf = "\r\n";
  for (char c : sign("paula_key")) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  httplib::MultipartFormDataItems upload = {
      {"csrf", paula.csrf, "", ""},
      {"comment", "signed", "", ""},
      {"signature_file", crlf, "paula.sig", "application/octet-stream"}};
  auto ok = client_->Post(("/plans/" + plan + "/approve").c_str(),
                          {{"Accept", "application/json"}, {"Cookie", paula.cookie}}, upload);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  json cli = PlanJson(plan);
  EXPECT_EQ(cli.value("status", ""), "approved");
  EXPECT_TRUE(cli["decisions"][0].value("signed", false)) << cli.dump();
  auto stored = Sh("sqlite3 audit.db \"SELECT signature FROM approvals\"");
  // Ed25519 signatures are deterministic: the stored one is byte for byte what ssh-keygen
  // printed (sqlite3 adds a line end after the value).
  EXPECT_EQ(stored.text, sign("paula_key") + "\n");
  EXPECT_EQ(Runbook("run rb.yaml --plan " + plan).code, 0);
}

}  // namespace
