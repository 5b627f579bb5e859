// runbook-serve: the `runbook` command line with `serve` and `serve passwd` built in, and the
// web server's libraries (web/, cpp-httplib, OpenSSL's TLS) linked. `runbook serve` starts it
// (serve_exec.cc); every other command works here as in `runbook`.
#include <malloc.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/config.h"
#include "app/signer.h"
#include "cli/commands.h"
#include "web/accounts.h"
#include "web/server.h"

namespace runbook::cli {
namespace {

// The users file when --users is not given: beside the settings file.
std::string DefaultUsersFile() {
  return (std::filesystem::path(UserConfigPath(SystemEnv())).parent_path() / "users").string();
}

// One line of stdin, without echo when it is a terminal.
std::string ReadSecretLine(const std::string& prompt) {
  const bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt.c_str());
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int ServePasswd(const ServeCommandOptions& options, const std::string& name) {
  const std::string file = options.users.empty() ? DefaultUsersFile() : options.users;
  std::string password = ReadSecretLine("new password for " + name + ": ");
  if (isatty(STDIN_FILENO) && ReadSecretLine("again: ") != password)
    return Fail(Status::Invalid("the two passwords differ; nothing changed"));
  if (password.size() < 8)
    return Fail(Status::Invalid("a password needs at least 8 characters; nothing changed"));
  auto hash = web::HashPassword(password);
  if (!hash.ok()) return Fail(hash.status());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  auto folded = web::SetAccountPassword(file, name, *hash);
  if (!folded.ok()) return Fail(folded.status());
  std::printf("set the password of %s in %s\nnext: `runbook serve --users %s`\n", folded->c_str(),
              file.c_str(), file.c_str());
  return kExitOk;
}

int Serve(const GlobalOptions& global, const ServeCommandOptions& options) {
  web::ServeOptions o;
  if (Status s = web::ParseListen(options.listen, &o.host, &o.port); !s.ok()) return Fail(s);
  o.tls_cert = options.tls_cert;
  o.tls_key = options.tls_key;
  o.stats_max_age = std::chrono::seconds(options.stats_max_age);
  o.insecure = options.insecure;
  o.trust_proxy_header = options.trust_proxy_header;
  if (options.trust_proxy_header.empty()) {
    o.users_file = options.users.empty() ? DefaultUsersFile() : options.users;
    auto accounts = web::LoadAccounts(o.users_file);
    if (!accounts.ok())
      return Fail(accounts.status().WithContext(
          "no accounts; add one with `runbook serve passwd NAME --users " + o.users_file + "`"));
    if (accounts->empty())
      return Fail(Status::Invalid(o.users_file +
                                  " has no accounts; add one with `runbook serve "
                                  "passwd NAME --users " +
                                  o.users_file + "`"));
  }
  if (Status s = web::CheckServeOptions(o); !s.ok()) return Fail(s);
  const std::string flag = global.audit_db;
  auto open = [flag]() { return OpenAuditDatabase(flag, SystemEnv()); };
  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  // Each request thread would otherwise get a malloc arena of its own that keeps what a
  // large page allocated: 448 MB after a load test, against 23 MB at the start.
  mallopt(M_ARENA_MAX, 2);
  web::WebServer server(open, *signer, SystemEnv(), o);

  // SIGINT and SIGTERM stop the server: a thread waits for them; every other thread has them
  // blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) server.Stop();
  });
  const bool tls = !o.tls_cert.empty();
  Status s = server.Run([&](int port) {
    const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    std::printf("runbook serve: listening on %s://%s:%d/ (audit log %s)\n", tls ? "https" : "http",
                host.c_str(), port, AuditDbPath(flag, SystemEnv()).c_str());
    if (!o.trust_proxy_header.empty())
      std::printf("users are who the %s header names (set by the proxy in front)\n",
                  o.trust_proxy_header.c_str());
    std::printf("stop it with Ctrl-C\n");
    std::fflush(stdout);
  });
  // Wake the watcher if the server ended by itself (a bind failure).
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  if (!s.ok()) return Fail(s);
  std::printf("runbook serve: stopped\n");
  return kExitOk;
}

int ServeElsewhere(int /*argc*/, char** /*argv*/) { return -1; }  // this is where it is served

}  // namespace runbook::cli
