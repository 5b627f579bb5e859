// `runbook serve`: started as runbook-serve (serve_run.cc), the same command line with the web
// server's libraries linked, so that every other command starts without them (cpp-httplib
// initialises OpenSSL's TLS when it is loaded: some 2.4 MB more of every process; see
// docs/performance.md). runbook-serve is found beside this binary (a build tree) or where
// `cmake --install` and the package put it (RUNBOOK_SERVE_FROM_BIN, relative to the binary's
// folder).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "cli/commands.h"

namespace runbook::cli {
namespace {

std::filesystem::path ServeBinary() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const std::filesystem::path dir = self.parent_path();
  for (const std::filesystem::path& candidate :
       {dir / "runbook-serve", (dir / RUNBOOK_SERVE_FROM_BIN).lexically_normal()}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return (dir / RUNBOOK_SERVE_FROM_BIN).lexically_normal();  // named in the error
}

int NotHere() {
  return Fail(Status::Error("serve runs in runbook-serve, which this binary starts (a bug)"));
}

}  // namespace

int ServeElsewhere(int /*argc*/, char** argv) {
  const std::filesystem::path serve = ServeBinary();
  if (!serve.empty()) execv(serve.c_str(), argv);
  const int error = errno;
  return Fail(Status::Error("cannot start " + (serve.empty() ? "runbook-serve" : serve.string()) +
                            ": " + std::strerror(error) +
                            " (`runbook serve` runs it; install runbook again, or build the "
                            "runbook-serve target)"));
}

int Serve(const GlobalOptions& /*global*/, const ServeCommandOptions& /*options*/) {
  return NotHere();
}

int ServePasswd(const ServeCommandOptions& /*options*/, const std::string& /*name*/) {
  return NotHere();
}

}  // namespace runbook::cli
