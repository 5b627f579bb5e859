#include "cli/common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace runbook::cli {

std::string AuditDbPath(const GlobalOptions& global) {
  if (!global.audit_db.empty()) return global.audit_db;
  if (const char* env = std::getenv("RUNBOOK_AUDIT_DB"); env && *env) return env;
  return ".runbook/audit.db";
}

std::unique_ptr<AuditStore> OpenAudit(const GlobalOptions& global) {
  auto store = AuditStore::Open(AuditDbPath(global));
  if (!store.ok()) {
    PrintError(store.message());
    return nullptr;
  }
  return std::move(store.value());
}

std::unique_ptr<Runbook> LoadOrReport(const std::string& path) {
  LoadResult r = LoadRunbookFile(path);
  for (const Diagnostic& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!r.ok()) {
    size_t errors = 0;
    for (const Diagnostic& d : r.diagnostics) errors += d.severity == Diagnostic::Severity::kError;
    std::fprintf(stderr, "%s: %zu error%s; nothing was run\n", path.c_str(), errors,
                 errors == 1 ? "" : "s");
  }
  return std::move(r.runbook);
}

std::unique_ptr<Runbook> LoadWithParams(const std::string& path,
                                        const std::vector<std::string>& param_args,
                                        std::map<std::string, std::string>* params) {
  std::unique_ptr<Runbook> rb = LoadOrReport(path);
  if (!rb) return nullptr;
  std::map<std::string, std::string> given;
  if (!ParseParamArgs(param_args, &given)) return nullptr;
  auto bound = BindParams(*rb, given);
  if (!bound.ok()) {
    PrintError(bound.message());
    return nullptr;
  }
  *params = std::move(bound.value());
  return rb;
}

bool ParseParamArgs(const std::vector<std::string>& args,
                    std::map<std::string, std::string>* out) {
  for (const std::string& a : args) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      PrintError("-p takes NAME=VALUE, got '" + a + "'");
      return false;
    }
    (*out)[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return true;
}

std::string OperatorName(const std::string& as) {
  if (!as.empty()) return as;
  if (const char* env = std::getenv("RUNBOOK_OPERATOR"); env && *env) return env;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* env = std::getenv("USER"); env && *env) return env;
  return "unknown";
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "runbook: error: %s\n", message.c_str());
}

}  // namespace runbook::cli
