// What the end-to-end tests share: running the built `runbook` binary in a scratch folder with
// its own audit database, and shell quoting for the command line that does it.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace runbook::testing {

struct Output {
  int code = -1;     // exit status; -1 when the binary did not exit normally
  std::string text;  // what it printed (see RunRunbook for which streams)
};

/// The whole of a file, as bytes; empty when it cannot be read.
inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs `runbook ARGS` in `cwd` with `audit_db` as its audit database, stdin from /dev/null.
/// `stderr_to` names a file for stderr; empty merges stderr into the captured stdout.
inline Output RunRunbook(const std::filesystem::path& cwd, const std::filesystem::path& audit_db,
                         const std::string& args, const std::filesystem::path& stderr_to = {}) {
  const std::string bin = std::string(RUNBOOK_BINARY_DIR) + "/runbook";
  const std::string err = stderr_to.empty() ? " 2>&1" : " 2>" + Quote(stderr_to.string());
  const std::string cmd = "cd " + Quote(cwd.string()) + " && RUNBOOK_AUDIT_DB=" +
                          Quote(audit_db.string()) + " NO_COLOR=1 " + Quote(bin) + " " + args +
                          err + " </dev/null";
  Output out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.text.append(buf.data(), n);
  const int status = pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace runbook::testing
