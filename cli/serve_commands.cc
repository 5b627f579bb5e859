// serve, serve passwd: the web interface for approvers and readers of the audit log
// (web/server.h, docs/serve.md). The options are parsed here, by both binaries; the commands
// themselves run in runbook-serve (serve_run.cc), which `runbook` starts for them
// (serve_exec.cc), so that the other commands do not load the web server's libraries.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace runbook::cli {

void AddServeCommands(CLI::App& app, GlobalOptions& global, ServeCommandOptions& options,
                      int& code) {
  CLI::App* serve =
      Command(app, "serve",
              "serve web pages where approvers review and approve plans and everyone watches runs "
              "(docs/serve.md)");
  serve->add_option("--listen", options.listen,
                    "HOST:PORT to listen on (default 127.0.0.1:8080; port 0: any free port); "
                    "an address other than loopback needs TLS or --insecure");
  serve->add_option("--tls-cert", options.tls_cert, "serve HTTPS with this PEM certificate");
  serve->add_option("--tls-key", options.tls_key, "... and this PEM private key");
  serve->add_flag("--insecure", options.insecure,
                  "allow plain HTTP on an address other than loopback (not recommended)");
  serve->add_option("--users", options.users,
                    "the accounts file (default ~/.config/runbook/users; make accounts with "
                    "`runbook serve passwd NAME`)");
  serve->add_option("--trust-proxy-header", options.trust_proxy_header,
                    "take the user's name from this header (e.g. X-Remote-User), set by a "
                    "reverse proxy that logged them in; only on a loopback address");
  serve
      ->add_option("--stats-max-age", options.stats_max_age,
                   "SECONDS one computation of /stats is served before it is made again, in "
                   "the background (default 10; the last one is shown meanwhile, for up to 5 "
                   "minutes)")
      ->check(CLI::Range(1, 3600));
  AddAuditDbOption(serve, &global);
  CLI::App* passwd = serve->add_subcommand(
      "passwd",
      "set the password of an account in the users file (read from the terminal, "
      "or one line of stdin)");
  passwd->add_option("NAME", options.passwd_name, "the account's name")->required();
  passwd->add_option("--users", options.users, "the accounts file (default as for serve)");
  serve->callback([&global, &options, &code, passwd] {
    code = passwd->parsed() ? ServePasswd(options, options.passwd_name) : Serve(global, options);
  });
}

}  // namespace runbook::cli
