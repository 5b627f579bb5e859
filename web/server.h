// `runbook serve` (docs/serve.md): the change-request flow and the audit log as web pages, for
// approvers who do not live in a terminal. One process, cpp-httplib's thread pool, over the
// same app/ services as the command line: the plans service (approve, reject: the same
// rules, the same records), the run history, the post-mortem report and stats.
//
// Every page answers HTML, or JSON when the request's Accept asks for application/json.
// Without a session every page but /login answers 401 (JSON) or a redirect to /login (HTML),
// and every action is refused. Sessions are HttpOnly, SameSite=Strict cookies (Secure under
// TLS); every form carries the session's CSRF token; logins are throttled; every login,
// login failure, approval, rejection and refused action is recorded in the audit log
// (app/web_record.h).
//
// Nothing here prints: the server reports through the callbacks of ServeOptions.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "audit/store.h"
#include "engine/environment.h"
#include "engine/status.h"

namespace runbook {
class Signer;
}

namespace runbook::web {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port (the ready callback says which)
  std::string tls_cert, tls_key;  // PEM files; both or neither
  bool insecure = false;          // allow plain HTTP on an address other than loopback
  std::string users_file;         // accounts (web/accounts.h), read at every login
  /// Take the user's name from this request header (set by a reverse proxy that
  /// authenticated them) instead of a login; only when bound to loopback.
  std::string trust_proxy_header;
  int login_failures = 5;                      // per address and per name ...
  std::chrono::seconds login_window{15 * 60};  // ... within this window
  std::chrono::seconds session_idle{8 * 3600};
  int stores = 4;    // audit store connections at most, one per request at a time
  int threads = 64;  // request threads (cpp-httplib serves a keep-alive connection per thread)
  /// How long one computation of /stats serves the requests with the same filters before a
  /// new one is made (in the background, from half this age) ...
  std::chrono::seconds stats_max_age{10};
  /// ... and how long it is still shown, with its time, while the new one is made: a page
  /// read after a pause does not wait for the log to be read. Past this, a request waits.
  std::chrono::seconds stats_max_stale{5 * 60};
  /// How often a run page refreshes while its run goes.
  std::chrono::milliseconds live_interval{1000};
};

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopback(const std::string& host);

/// The rules on listening: TLS needs both files; an address other than loopback needs TLS or
/// `insecure`; a trusted proxy header needs loopback; without a proxy header, a users file.
/// kInvalid saying what to change.
Status CheckServeOptions(const ServeOptions& options);

/// "HOST:PORT" or "[V6]:PORT" -> host, port. kInvalid for anything else.
Status ParseListen(const std::string& listen, std::string* host, int* port);

/// Opens one more connection to the audit store the server reads and writes.
using StoreOpener = std::function<Result<std::unique_ptr<AuditStore>>()>;

class WebServer {
 public:
  /// `open` is called for the first request and again, up to ServeOptions::stores times,
  /// while every store already open is busy with a request. Every reference must outlive
  /// the server.
  WebServer(StoreOpener open, Signer& signer, const Environment& env, ServeOptions options);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  /// Opens the store, binds and serves until Stop(); calls `ready` with the bound port once
  /// it listens. kInvalid for options CheckServeOptions refuses; kIOError when it cannot bind
  /// or load the TLS files; the store's error when it cannot be opened.
  Status Run(const std::function<void(int port)>& ready);
  /// Stops Run() (from another thread or a signal-watching thread).
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace runbook::web
