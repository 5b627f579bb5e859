#include "web/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "app/approval_policy.h"
#include "app/change_request.h"
#include "app/history.h"
#include "app/html.h"
#include "app/maintenance_record.h"
#include "app/plans.h"
#include "app/postmortem_report.h"
#include "app/report_timeline.h"
#include "app/stats.h"
#include "app/time_filter.h"
#include "app/web_record.h"
#include "audit/audit_format.h"
#include "audit/lock_table.h"
#include "engine/host_ledger.h"
#include "web/accounts.h"
#include "web/assets.h"
#include "web/pages.h"
#include "web/sessions.h"

namespace runbook::web {

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

Status ParseListen(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    return Status::Invalid("--listen " + listen + ": expected HOST:PORT, e.g. 127.0.0.1:8080");
  std::string h = listen.substr(0, colon);
  if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (char c : listen.substr(colon + 1)) {
    if (c < '0' || c > '9' || p > 65535)
      return Status::Invalid("--listen " + listen + ": the port must be a number 0-65535");
    p = p * 10 + (c - '0');
  }
  if (p > 65535) return Status::Invalid("--listen " + listen + ": the port must be 0-65535");
  *host = h;
  *port = p;
  return Status::Ok();
}

Status CheckServeOptions(const ServeOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty())
    return Status::Invalid("--tls-cert and --tls-key go together: give both, or neither");
  const bool tls = !o.tls_cert.empty();
  if (!IsLoopback(o.host) && !tls && !o.insecure)
    return Status::Invalid("refusing to serve plain HTTP on " + o.host +
                           ", an address other than loopback: passwords and sessions would "
                           "cross the network in clear. Give --tls-cert and --tls-key, put a "
                           "TLS proxy in front and listen on 127.0.0.1, or add --insecure");
  if (!o.trust_proxy_header.empty() && !IsLoopback(o.host))
    return Status::Invalid("--trust-proxy-header " + o.trust_proxy_header +
                           " needs --listen on a loopback address (127.0.0.1:PORT), where only "
                           "the proxy can reach the server; anyone else could set the header");
  if (o.trust_proxy_header.empty() && o.users_file.empty())
    return Status::Invalid(
        "nobody could log in: give --users FILE (accounts made with `runbook "
        "serve passwd NAME --users FILE`) or --trust-proxy-header HEADER");
  return Status::Ok();
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kSessionCookie[] = "rb_session";
constexpr char kLoginCookie[] = "rb_login";

// A few audit stores opened on demand and lent to one request at a time, so that a slow page
// (stats over a long log, a plan whose signatures are checked again) does not hold up the
// run pages being polled.
class StorePool {
 public:
  StorePool(StoreOpener open, int max) : open_(std::move(open)), max_(std::max(1, max)) {}

  class Lease {
   public:
    Lease(StorePool* pool, AuditStore* store) : pool_(pool), store_(store) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), store_(o.store_) { o.store_ = nullptr; }
    ~Lease() {
      if (store_) pool_->Release(store_);
    }
    AuditStore& operator*() const { return *store_; }
    AuditStore* operator->() const { return store_; }

   private:
    StorePool* pool_;
    AuditStore* store_;
  };

  /// Opens the first store: what Run() checks before it listens.
  Status Open() {
    auto first = open_();
    if (!first.ok()) return first.status();
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(first->get());
    all_.push_back(std::move(first.value()));
    return Status::Ok();
  }

  /// A store for one request: an idle one, a new one while fewer than `max` are open, or
  /// the next one released.
  Lease Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    if (idle_.empty() && static_cast<int>(all_.size()) + opening_ < max_) {
      ++opening_;
      lock.unlock();
      auto store = open_();
      lock.lock();
      --opening_;
      if (store.ok()) {
        all_.push_back(std::move(store.value()));
        return Lease(this, all_.back().get());
      }
    }
    cv_.wait(lock, [&] { return !idle_.empty(); });
    AuditStore* s = idle_.back();
    idle_.pop_back();
    return Lease(this, s);
  }

 private:
  void Release(AuditStore* s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(s);
    }
    cv_.notify_one();
  }

  StoreOpener open_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  int opening_ = 0;
  std::vector<std::unique_ptr<AuditStore>> all_;
  std::vector<AuditStore*> idle_;
};

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    const size_t b = part.find_first_not_of(' ');
    part = b == std::string::npos ? "" : part.substr(b);
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool WantsJson(const httplib::Request& req) {
  return req.get_header_value("Accept").find("application/json") != std::string::npos;
}

// A form field, from a urlencoded body or a multipart one (an uploaded file's content).
std::string Field(const httplib::Request& req, const std::string& name) {
  if (req.has_param(name.c_str())) return req.get_param_value(name.c_str());
  if (req.has_file(name.c_str())) return req.get_file_value(name.c_str()).content;
  return "";
}

int HttpStatusFor(const Status& s) {
  switch (s.kind()) {
    case StatusKind::kInvalid:
      return 400;
    case StatusKind::kNotFound:
      return 404;
    case StatusKind::kRefused:
      return 403;
    case StatusKind::kBusy:
      return 503;
    case StatusKind::kOk:
    case StatusKind::kFailed:
    case StatusKind::kCorruption:
    case StatusKind::kIOError:
      return 500;
  }
  return 500;
}

// Only a path of this server: "/..." but not "//host" (an open redirect).
std::string SafeNext(const std::string& next) {
  if (next.size() < 1 || next[0] != '/' || (next.size() > 1 && (next[1] == '/' || next[1] == '\\')))
    return "/";
  for (char c : next)
    if (static_cast<unsigned char>(c) < 0x20) return "/";
  return next;
}

// A signature as ssh-keygen prints it: a browser sends a textarea's lines ending in CRLF, and a
// paste may bring blank lines or spaces around it. "" stays "".
std::string ArmouredSignature(const std::string& pasted) {
  std::string text;
  for (char c : pasted)
    if (c != '\r') text += c;
  const size_t b = text.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  const size_t e = text.find_last_not_of(" \t\n");
  return text.substr(b, e - b + 1) + "\n";
}

}  // namespace

class WebServer::Impl {
 public:
  Impl(StoreOpener open, Signer& signer, const Environment& env, ServeOptions options)
      : pool_(std::move(open), options.stores),
        signer_(signer),
        env_(env),
        options_(std::move(options)),
        sessions_(options_.session_idle),
        throttle_(options_.login_failures, options_.login_window) {}

  ~Impl() {
    // The background stats computations use the store pool: let them finish first.
    std::vector<std::future<void>> pending;
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      pending.swap(refreshes_);
    }
    for (auto& f : pending) f.wait();
  }

  Status Run(const std::function<void(int port)>& ready);
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (server_) server_->stop();
  }

 private:
  // One request as the handlers see it.
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    bool json = false;
    std::optional<Session> session;
    std::string remote;
  };

  void Routes();
  bool tls() const { return !options_.tls_cert.empty(); }
  std::string CookieAttributes() const {
    return std::string("; Path=/; HttpOnly; SameSite=Strict") + (tls() ? "; Secure" : "");
  }
  void Identify(Call& call);
  Viewer ViewerOf(const Call& call) const {
    return {call.session ? call.session->user : "", call.session ? call.session->csrf : "",
            !options_.trust_proxy_header.empty()};
  }
  // Answers a page request without a session: 401 (JSON) or a redirect to the login page.
  void NeedLogin(Call& call);
  void SendHtml(Call& call, int status, const std::string& html) {
    call.res.status = status;
    call.res.set_content(html, "text/html; charset=utf-8");
  }
  void SendJson(Call& call, int status, const nlohmann::ordered_json& j) {
    call.res.status = status;
    call.res.set_content(JsonOutput(j) + "\n", "application/json");
  }
  void SendError(Call& call, int status, const std::string& message);
  void Redirect(Call& call, const std::string& to) {
    call.res.status = 303;
    call.res.set_header("Location", to);
  }
  void Record(const WebAction& action);

  // The handlers.
  using Handler = void (Impl::*)(Call&);
  void Page(httplib::Server& s, const std::string& pattern, Handler h);
  void Overview(Call& call);
  void Plans(Call& call);
  void PlanPage(Call& call) { ShowPlan(call, call.req.matches[1], 200, {}); }
  void ShowPlan(Call& call, const std::string& id, int status, PlanPageState state);
  void Runs(Call& call);
  void RunPage(Call& call);
  void Report(Call& call);
  void Stats(Call& call);
  void LoginForm(Call& call, int status, const std::string& error, const std::string& next);
  void Login(Call& call);
  void Logout(Call& call);
  void Decide(Call& call, const std::string& action);

  Result<RunList> ListRunsForPage(AuditStore& db, int limit);

  StorePool pool_;
  Signer& signer_;
  const Environment& env_;
  ServeOptions options_;
  SessionTable sessions_;
  LoginThrottle throttle_;
  // Plans' runbooks, loaded once: every list of plans shows each one's rules.
  PlanRunbookCache plan_runbooks_;
  Result<StatsReport> ComputeStatsFor(const std::string& runbook, const std::string& since);
  void RefreshStats(const std::string& key, const std::string& runbook, const std::string& since);

  struct StatsEntry {
    Clock::time_point at;
    StatsReport report;
    bool computed = false;    // `report` holds a computation (not only a refresh under way)
    bool refreshing = false;  // a background computation is under way
  };
  std::mutex stats_mu_;
  std::map<std::string, StatsEntry> stats_cache_;  // by runbook "\n" since
  std::vector<std::future<void>> refreshes_;       // waited for by ~Impl (futures of async)
  std::mutex mu_;
  bool stopping_ = false;
  std::unique_ptr<httplib::Server> server_;
};

void WebServer::Impl::Identify(Call& call) {
  call.remote = call.req.remote_addr;
  const std::string token = CookieValue(call.req, kSessionCookie);
  if (options_.trust_proxy_header.empty()) {
    call.session = sessions_.Find(token, Clock::now());
    return;
  }
  // Behind a proxy that authenticated the user: the header names them. A session is still
  // made, for its CSRF token, and bound to that name.
  const std::string header = call.req.get_header_value(options_.trust_proxy_header.c_str());
  auto name = PersonName(header);
  if (header.empty() || !name.ok()) return;
  auto session = sessions_.Find(token, Clock::now());
  if (session && session->user == *name) {
    call.session = std::move(session);
    return;
  }
  auto [new_token, fresh] = sessions_.Create(*name, Clock::now());
  call.res.set_header("Set-Cookie",
                      std::string(kSessionCookie) + "=" + new_token + CookieAttributes());
  call.session = fresh;
}

void WebServer::Impl::NeedLogin(Call& call) {
  if (call.json || !options_.trust_proxy_header.empty()) {
    const std::string why =
        options_.trust_proxy_header.empty()
            ? "log in first: POST /login with name, password and csrf "
              "(GET /login gives the csrf token)"
            : "the proxy did not say who you are (no " + options_.trust_proxy_header + " header)";
    if (call.json) return SendJson(call, 401, {{"error", why}, {"login", "/login"}});
    return SendHtml(call, 401, web::Page({}, "", "Not logged in", "<p>" + why + "</p>"));
  }
  std::string next = call.req.path;
  Redirect(call, Path("/login?next=", next));
}

void WebServer::Impl::SendError(Call& call, int status, const std::string& message) {
  if (call.json) return SendJson(call, status, {{"error", message}});
  SendHtml(call, status,
           web::Page(ViewerOf(call), "", "Error",
                     "<h1>Error " + std::to_string(status) +
                         "</h1><p class=\"flash error\" "
                         "id=\"error\">" +
                         HtmlEscape(message) + "</p>"));
}

void WebServer::Impl::Record(const WebAction& action) {
  auto db = pool_.Acquire();
  // A record that cannot be written is not a reason to fail the page, but it must not vanish:
  // the store holds what it could write neither to the database nor to its journal.
  (void)RecordWebAction(*db, env_, action);
}

void WebServer::Impl::Page(httplib::Server& s, const std::string& pattern, Handler h) {
  s.Get(pattern, [this, h](const httplib::Request& req, httplib::Response& res) {
    Call call{req, res, WantsJson(req), std::nullopt, ""};
    Identify(call);
    if (!call.session) return NeedLogin(call);
    (this->*h)(call);
  });
}

Result<RunList> WebServer::Impl::ListRunsForPage(AuditStore& db, int limit) {
  RunQuery query;
  query.limit = limit;
  query.exclude_runbooks = {kWebRecord};  // logins and approvals: not runs
  return ListRuns(db.events(), query);
}

namespace {
int LimitParam(const httplib::Request& req, int fallback) {
  if (!req.has_param("limit")) return fallback;
  const std::string v = req.get_param_value("limit");
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos)
    return fallback;
  return std::stoi(v);
}

// Pending first, then the newest.
std::vector<const PlanView*> PlanOrder(const std::vector<PlanView>& all) {
  std::vector<const PlanView*> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) out.push_back(&*it);
  std::stable_sort(out.begin(), out.end(), [](const PlanView* a, const PlanView* b) {
    return (a->status() == "pending") > (b->status() == "pending");
  });
  return out;
}
}  // namespace

void WebServer::Impl::Overview(Call& call) {
  auto db = pool_.Acquire();
  PlanService plans(*db, signer_, env_, &plan_runbooks_);
  auto all = plans.List();
  if (!all.ok()) return SendError(call, HttpStatusFor(all.status()), all.message());
  auto runs = ListRunsForPage(*db, 10);
  if (!runs.ok()) return SendError(call, HttpStatusFor(runs.status()), runs.message());
  std::vector<const PlanView*> pending;
  for (const PlanView* v : PlanOrder(*all))
    if (v->status() == "pending") pending.push_back(v);
  if (call.json) {
    nlohmann::ordered_json p = nlohmann::ordered_json::array();
    for (const PlanView* v : pending) p.push_back(PlanViewJson(*v));
    return SendJson(call, 200,
                    {{"user", call.session->user},
                     {"csrf", call.session->csrf},  // for scripts' POSTs (X-CSRF-Token)
                     {"pending_plans", std::move(p)},
                     {"runs", RunsJson(runs->runs, runs->failed_hosts)}});
  }
  std::string body = "<h1>Overview</h1><h2>Plans waiting for approval</h2>" + PlansTable(pending) +
                     "<h2>Latest runs</h2>" + RunsTable(*runs, "/runs?limit=10") +
                     "<p><a href=\"/runs\">All runs</a> · <a href=\"/plans\">All plans</a></p>";
  SendHtml(call, 200, web::Page(ViewerOf(call), "/", "Overview", body));
}

void WebServer::Impl::Plans(Call& call) {
  auto db = pool_.Acquire();
  PlanService plans(*db, signer_, env_, &plan_runbooks_);
  auto all = plans.List();
  if (!all.ok()) return SendError(call, HttpStatusFor(all.status()), all.message());
  std::vector<const PlanView*> ordered = PlanOrder(*all);
  if (call.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const PlanView* v : ordered) list.push_back(PlanViewJson(*v));
    return SendJson(call, 200, {{"plans", std::move(list)}});
  }
  SendHtml(call, 200,
           web::Page(ViewerOf(call), "/plans", "Plans", "<h1>Plans</h1>" + PlansTable(ordered)));
}

void WebServer::Impl::ShowPlan(Call& call, const std::string& id, int status, PlanPageState state) {
  auto db = pool_.Acquire();
  PlanService plans(*db, signer_, env_, &plan_runbooks_);
  auto details = plans.Show(id);
  if (!details.ok()) return SendError(call, HttpStatusFor(details.status()), details.message());
  const PlanRecord& plan = details->view.plan;
  state.is_requester = FoldName(plan.requested_by) == call.session->user;
  if (plan.document.is_object() && plan.document.contains("steps")) {
    auto rendered = RenderChangeRequest(plan.document);
    state.change_request =
        rendered.ok() ? *rendered : "(cannot be shown: " + rendered.message() + ")";
  }
  if (call.req.has_param("done") && state.flash.empty() && state.error.empty()) {
    const std::string done = call.req.get_param_value("done");
    if (done == "approved") state.flash = "You approved this plan.";
    if (done == "rejected") state.flash = "You rejected this plan.";
  }
  if (call.json) {
    nlohmann::ordered_json j = PlanViewJson(details->view);
    j["runs"] = details->runs;
    j["document"] = nlohmann::ordered_json(plan.document);
    j["change_request"] = state.change_request;
    if (!state.error.empty()) j["error"] = state.error;
    return SendJson(call, status, j);
  }
  SendHtml(call, status,
           web::Page(ViewerOf(call), "/plans", "Plan " + plan.plan_id,
                     PlanBody(*details, ViewerOf(call), state)));
}

void WebServer::Impl::Runs(Call& call) {
  auto db = pool_.Acquire();
  const int limit = LimitParam(call.req, 100);
  auto runs = ListRunsForPage(*db, limit);
  if (!runs.ok()) return SendError(call, HttpStatusFor(runs.status()), runs.message());
  if (call.json) return SendJson(call, 200, {{"runs", RunsJson(runs->runs, runs->failed_hosts)}});
  SendHtml(call, 200,
           web::Page(ViewerOf(call), "/runs", "Runs",
                     "<h1>Runs</h1>" + RunsTable(*runs, "/runs?limit=" + std::to_string(limit))));
}

void WebServer::Impl::RunPage(Call& call) {
  const std::string id = call.req.matches[1];
  RunHistoryView view;
  {
    auto db = pool_.Acquire();
    auto replay = ReplayRun(db->events(), id, /*verify=*/false);
    if (!replay.ok()) return SendError(call, HttpStatusFor(replay.status()), replay.message());
    view = std::move(replay.value());
  }
  RunPageData data;
  data.view = &view;
  const StoredRun& run = view.run;
  if (run.finished()) {
    data.state = run.state;
  } else {
    // A run whose executor is gone stays unfinished until `runbook recover`.
    const bool gone = run.host == LocalHostName() && !ProcessAlive(run.pid, "");
    data.state = gone ? "unfinished" : "running";
  }
  data.bars = TimelineBars(run, view.events);
  long long total = 0;
  for (const TimelineBar& b : data.bars) total = std::max(total, b.end_ms);
  if (auto d = RunDurationMs(run)) total = std::max(total, *d);
  data.timeline_svg = TimelineSvg(data.bars, total);
  HostLedger ledger;
  for (const StoredEvent& e : view.events) ledger.Add(e.view());
  data.hosts = ledger.Tally();
  data.failed_hosts = ledger.FailedHosts();
  data.live_interval_ms = options_.live_interval.count();
  // ?events=none: what live.js polls, without every event of the run each second.
  const bool with_events =
      !(call.req.has_param("events") && call.req.get_param_value("events") == "none");
  if (call.json) return SendJson(call, 200, RunJson(data, with_events));
  SendHtml(call, 200, web::Page(ViewerOf(call), "/runs", "Run " + id, RunBody(data)));
}

void WebServer::Impl::Report(Call& call) {
  const std::string id = call.req.matches[1];
  auto db = pool_.Acquire();
  if (call.json) {
    auto replay = ReplayRun(db->events(), id, /*verify=*/false);
    if (!replay.ok()) return SendError(call, HttpStatusFor(replay.status()), replay.message());
    RunChangeRequest cr = ReadRunChangeRequest(db->plans(), replay->run, &signer_);
    return SendJson(call, 200, PostmortemContext(replay->run, replay->events, &cr));
  }
  auto html = RenderRunReport(db->events(), id, {}, nullptr, &db->plans(), &signer_);
  if (!html.ok()) return SendError(call, HttpStatusFor(html.status()), html.message());
  // The report is one self-contained page with its own inline stylesheet.
  call.res.headers.erase("Content-Security-Policy");  // set_header adds to the default
  call.res.set_header("Content-Security-Policy",
                      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  SendHtml(call, 200, *html);
}

void WebServer::Impl::Stats(Call& call) {
  StatsQuery query;
  query.now = env_.Now();
  if (call.req.has_param("runbook")) query.runbook = call.req.get_param_value("runbook");
  if (call.req.has_param("since")) {
    auto since = ParseSince(call.req.get_param_value("since"), query.now);
    if (!since.ok()) return SendError(call, 400, "since: " + since.message());
    query.since = *since;
  }
  // Stats read most of a long log (0.3 to 0.9 s at 10,000 runs): one computation serves every
  // request with the same filters for ServeOptions::stats_max_age; past half that age a new
  // one is computed in the background (RefreshStats), and the last one is shown meanwhile (the
  // page says when it was computed) for up to stats_max_stale. Only the first request for a
  // filter, or one after a long pause, waits.
  const std::string since_text =
      call.req.has_param("since") ? call.req.get_param_value("since") : "";
  const std::string key = query.runbook + "\n" + since_text;
  std::optional<StatsReport> report;
  bool updating = false;  // a newer computation is under way: the page reloads by itself
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    auto it = stats_cache_.find(key);
    if (it != stats_cache_.end() && it->second.computed) {
      const auto age = Clock::now() - it->second.at;
      if (age < options_.stats_max_stale) report = it->second.report;
      // Read again past half its age: computed anew in the background, so that a page read
      // often never waits for it.
      if (age >= std::chrono::duration_cast<std::chrono::milliseconds>(options_.stats_max_age) / 2)
        RefreshStats(key, query.runbook, since_text);
      updating = report && stats_cache_[key].refreshing;
    }
  }
  if (!report) {
    auto computed = ComputeStatsFor(query.runbook, since_text);
    if (!computed.ok())
      return SendError(call, HttpStatusFor(computed.status()), computed.message());
    report = std::move(computed.value());
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (stats_cache_.size() >= 64 && !stats_cache_.count(key)) {
      // Many different filters: forget those no computation is writing to.
      for (auto it = stats_cache_.begin(); it != stats_cache_.end();)
        it = it->second.refreshing ? std::next(it) : stats_cache_.erase(it);
    }
    StatsEntry& entry = stats_cache_[key];
    entry.at = Clock::now();
    entry.report = *report;
    entry.computed = true;
  }
  if (call.json) {
    nlohmann::ordered_json j = StatsJson(*report);
    j["updating"] = updating;  // `until` says when these were computed
    return SendJson(call, 200, j);
  }
  // The browser asks again in a second (Refresh: the same as <meta http-equiv="refresh">, with
  // no markup or script), by which time the newer figures are usually there.
  if (updating) call.res.set_header("Refresh", "1");
  SendHtml(call, 200, web::Page(ViewerOf(call), "/stats", "Stats", StatsBody(*report, updating)));
}

Result<StatsReport> WebServer::Impl::ComputeStatsFor(const std::string& runbook,
                                                     const std::string& since) {
  StatsQuery query;
  query.now = env_.Now();
  query.runbook = runbook;
  if (!since.empty()) {
    auto at = ParseSince(since, query.now);
    if (!at.ok()) return at.status();
    query.since = *at;
  }
  auto db = pool_.Acquire();
  return ComputeStats(db->events(), query);
}

void WebServer::Impl::RefreshStats(const std::string& key, const std::string& runbook,
                                   const std::string& since) {
  // Called with stats_mu_ held.
  StatsEntry& entry = stats_cache_[key];
  if (entry.refreshing) return;
  entry.refreshing = true;
  refreshes_.erase(std::remove_if(refreshes_.begin(), refreshes_.end(),
                                  [](std::future<void>& f) {
                                    return f.wait_for(std::chrono::seconds(0)) ==
                                           std::future_status::ready;
                                  }),
                   refreshes_.end());
  refreshes_.push_back(std::async(std::launch::async, [this, key, runbook, since] {
    auto computed = ComputeStatsFor(runbook, since);
    std::lock_guard<std::mutex> lock(stats_mu_);
    StatsEntry& e = stats_cache_[key];
    e.refreshing = false;
    if (computed.ok()) {
      e.at = Clock::now();
      e.report = std::move(computed.value());
      e.computed = true;
    }
  }));
}

void WebServer::Impl::LoginForm(Call& call, int status, const std::string& error,
                                const std::string& next) {
  // The token of the login form already in this browser, so that a second tab (or a request
  // the browser makes by itself) does not invalidate the first form.
  std::string token = CookieValue(call.req, kLoginCookie);
  if (token.size() != 64 || token.find_first_not_of("0123456789abcdef") != std::string::npos)
    token = RandomToken();
  call.res.set_header("Set-Cookie", std::string(kLoginCookie) + "=" + token + CookieAttributes());
  if (call.json) {
    nlohmann::ordered_json j = {{"csrf", token}, {"fields", {"name", "password", "csrf"}}};
    if (!error.empty()) j["error"] = error;
    return SendJson(call, status, j);
  }
  SendHtml(call, status, LoginPage(token, next, error));
}

void WebServer::Impl::Login(Call& call) {
  const std::string typed = Field(call.req, "name");
  const std::string next = SafeNext(Field(call.req, "next"));
  WebAction action{.action = "login", .outcome = "refused", .user = typed, .remote = call.remote};
  auto refuse = [&](int status, const std::string& why) {
    action.reason = why;
    Record(action);
    LoginForm(call, status, why, next);
  };
  if (!SameToken(CookieValue(call.req, kLoginCookie), Field(call.req, "csrf")))
    return refuse(403, "the login form expired or did not come from this server; log in again");
  auto folded = PersonName(typed);
  const std::string name = folded.ok() ? *folded : typed;
  action.user = name;
  const std::vector<std::string> keys = {"address:" + call.remote, "name:" + name};
  if (long long wait = throttle_.RetryAfter(keys, Clock::now()); wait > 0) {
    call.res.set_header("Retry-After", std::to_string(wait));
    return refuse(429, "too many failed logins; try again in " + std::to_string(wait) + " s");
  }
  auto accounts = LoadAccounts(options_.users_file);
  if (!accounts.ok()) {
    action.reason = accounts.message();
    Record(action);
    return SendError(call, 500, "the server cannot read its users file; tell its administrator");
  }
  auto it = folded.ok() ? accounts->find(name) : accounts->end();
  // An unknown name costs a hash too, so that timing does not tell which names exist.
  static const std::string kDummy = [] {
    auto h = HashPassword("runbook-dummy-password");
    return h.ok() ? *h : std::string("$y$");
  }();
  const bool ok =
      CheckPassword(Field(call.req, "password"), it == accounts->end() ? kDummy : it->second) &&
      it != accounts->end();
  if (!ok) {
    throttle_.Failed(keys, Clock::now());
    return refuse(401, "wrong name or password");
  }
  throttle_.Succeeded("name:" + name);
  auto [token, session] = sessions_.Create(name, Clock::now());
  call.res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + token + CookieAttributes());
  action.outcome = "ok";
  Record(action);
  if (call.json) return SendJson(call, 200, {{"user", name}, {"csrf", session.csrf}});
  Redirect(call, next);
}

void WebServer::Impl::Logout(Call& call) {
  if (call.session && SameToken(call.session->csrf, Field(call.req, "csrf")))
    sessions_.Remove(CookieValue(call.req, kSessionCookie));
  call.res.set_header("Set-Cookie",
                      std::string(kSessionCookie) + "=; Max-Age=0" + CookieAttributes());
  if (call.json) return SendJson(call, 200, {{"logged_out", true}});
  Redirect(call, "/login");
}

void WebServer::Impl::Decide(Call& call, const std::string& what) {
  const std::string id = call.req.matches[1];
  const std::string comment = Field(call.req, "comment");
  WebAction action{.action = what,
                   .outcome = "refused",
                   .user = call.session ? call.session->user : "",
                   .remote = call.remote,
                   .plan_id = id,
                   .comment = comment};
  auto refuse = [&](int status, const std::string& why) {
    action.reason = why;
    Record(action);
    if (!call.session) {
      if (call.json) return SendJson(call, status, {{"error", why}});
      return SendHtml(call, status,
                      web::Page({}, "", "Refused",
                                "<p class=\"flash error\" "
                                "id=\"error\">" +
                                    HtmlEscape(why) + "</p>"));
    }
    PlanPageState state;
    state.error = why;
    ShowPlan(call, id, status, state);
  };
  if (!call.session) return refuse(401, "log in first: nobody may " + what + " without a session");
  const std::string csrf = call.req.has_header("X-CSRF-Token")
                               ? call.req.get_header_value("X-CSRF-Token")
                               : Field(call.req, "csrf");
  if (!SameToken(call.session->csrf, csrf))
    return refuse(403,
                  "the form's CSRF token does not match your session; reload the page "
                  "and try again");
  Status failed = Status::Ok();
  bool approved_now = false;
  {
    auto db = pool_.Acquire();
    PlanService plans(*db, signer_, env_, &plan_runbooks_);
    if (what == "approve") {
      PlanService::ApproveRequest request{id, call.session->user, comment, "",
                                          Field(call.req, "signature")};
      if (request.signature.empty()) request.signature = Field(call.req, "signature_file");
      request.signature = ArmouredSignature(request.signature);
      auto outcome = plans.Approve(request);
      if (!outcome.ok()) {
        failed = outcome.status();
      } else {
        approved_now = outcome->approved;
        if (outcome->already_approved) action.reason = "already approved";
      }
    } else {
      if (comment.empty())
        failed = Status::Invalid("a rejection needs a comment saying why");
      else if (auto plan = plans.Reject(id, call.session->user, comment); !plan.ok())
        failed = plan.status();
    }
  }
  if (!failed.ok()) return refuse(HttpStatusFor(failed), failed.message());
  action.outcome = "ok";
  Record(action);
  if (call.json) {
    PlanPageState state;
    state.flash = what == "approve" ? (approved_now ? "approved; the plan is approved" : "approved")
                                    : "rejected";
    return ShowPlan(call, id, 200, state);
  }
  Redirect(call, Path("/plans/", id) + "?done=" + (what == "approve" ? "approved" : "rejected"));
}

void WebServer::Impl::Routes() {
  httplib::Server& s = *server_;
  s.set_payload_max_length(1 << 20);
  s.new_task_queue = [n = options_.threads] { return new httplib::ThreadPool(n); };
  s.set_default_headers({
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cache-Control", "no-store"},
  });
  s.Get("/static/style.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kStyleCss), "text/css");
  });
  s.Get("/static/live.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kLiveJs), "text/javascript");
  });
  s.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  s.Get("/login", [this](const httplib::Request& req, httplib::Response& res) {
    Call call{req, res, WantsJson(req), std::nullopt, ""};
    Identify(call);
    const std::string next = SafeNext(req.has_param("next") ? req.get_param_value("next") : "/");
    if (call.session) return Redirect(call, next);
    if (!options_.trust_proxy_header.empty()) return NeedLogin(call);
    LoginForm(call, 200, "", next);
  });
  s.Post("/login", [this](const httplib::Request& req, httplib::Response& res) {
    Call call{req, res, WantsJson(req), std::nullopt, ""};
    Identify(call);
    if (!options_.trust_proxy_header.empty()) return NeedLogin(call);
    Login(call);
  });
  s.Post("/logout", [this](const httplib::Request& req, httplib::Response& res) {
    Call call{req, res, WantsJson(req), std::nullopt, ""};
    Identify(call);
    Logout(call);
  });
  Page(s, "/", &Impl::Overview);
  Page(s, "/plans", &Impl::Plans);
  Page(s, R"(/plans/([^/]+))", &Impl::PlanPage);
  Page(s, "/runs", &Impl::Runs);
  Page(s, R"(/runs/([^/]+))", &Impl::RunPage);
  Page(s, R"(/runs/([^/]+)/report)", &Impl::Report);
  Page(s, "/stats", &Impl::Stats);
  for (const std::string what : {"approve", "reject"}) {
    s.Post(R"(/plans/([^/]+)/)" + what,
           [this, what](const httplib::Request& req, httplib::Response& res) {
             Call call{req, res, WantsJson(req), std::nullopt, ""};
             Identify(call);
             Decide(call, what);
           });
  }
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Call call{req, res, WantsJson(req), std::nullopt, ""};
    const int status = res.status;
    Identify(call);
    if (!call.session && status == 404) return NeedLogin(call);
    SendError(call, status, status == 404 ? "no such page: " + req.path : "the request failed");
  });
  s.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        Call call{req, res, WantsJson(req), std::nullopt, ""};
        SendError(call, 500, "internal error");
      });
}

Status WebServer::Impl::Run(const std::function<void(int port)>& ready) {
  if (Status s = CheckServeOptions(options_); !s.ok()) return s;
  if (Status s = pool_.Open(); !s.ok()) return s;
  {
    // /stats without filters, computed while the server starts: its first reader need not wait.
    std::lock_guard<std::mutex> lock(stats_mu_);
    RefreshStats("\n", "", "");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tls()) {
      auto ssl =
          std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
      if (!ssl->is_valid())
        return Status::IOError("cannot load the TLS certificate " + options_.tls_cert +
                               " and key " + options_.tls_key +
                               " (PEM files, the key unencrypted, matching each other)");
      server_ = std::move(ssl);
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    if (stopping_) return Status::Ok();
  }
  Routes();
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host.c_str());
    if (port < 0) port = 0;
  } else if (!server_->bind_to_port(options_.host.c_str(), port)) {
    port = 0;
  }
  if (port == 0)
    return Status::IOError("cannot listen on " + options_.host + ":" +
                           std::to_string(options_.port) +
                           " (in use, or not an address of this machine)");
  if (ready) ready(port);
  if (!server_->listen_after_bind() && !stopping_)
    return Status::IOError("the server stopped listening on " + options_.host);
  return Status::Ok();
}

WebServer::WebServer(StoreOpener open, Signer& signer, const Environment& env, ServeOptions options)
    : impl_(std::make_unique<Impl>(std::move(open), signer, env, std::move(options))) {}
WebServer::~WebServer() = default;
Status WebServer::Run(const std::function<void(int port)>& ready) { return impl_->Run(ready); }
void WebServer::Stop() { impl_->Stop(); }

}  // namespace runbook::web
