#include "app/inputs.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "app/config.h"
#include "audit/pg_connection.h"
#include "audit/pg_store.h"
#include "engine/loader.h"

namespace runbook {

std::string AuditDbPath(const std::string& flag, const Environment& env) {
  if (!flag.empty()) return flag;
  if (auto v = env.GetEnv("RUNBOOK_AUDIT_DB"); v && !v->empty()) return *v;
  if (auto config = LoadConfig(env); config.ok() && !config->audit_db.empty())
    return config->audit_db;
  // One log, and so one set of locks, per user, whatever folder a runbook is run from.
  return StateDir(env) + "/audit.db";
}

std::string StateDir(const Environment& env) {
  if (auto v = env.GetEnv("XDG_STATE_HOME"); v && !v->empty() && (*v)[0] == '/')
    return *v + "/runbook";
  std::string home;
  if (auto v = env.GetEnv("HOME"); v && !v->empty()) {
    home = *v;
  } else if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) {
    home = pw->pw_dir;
  }
  if (home.empty()) return ".runbook";  // no home at all: the folder we are in
  return home + "/.local/state/runbook";
}

Result<std::unique_ptr<AuditStore>> OpenAuditDatabase(const std::string& flag,
                                                       const Environment& env) {
  if (auto config = LoadConfig(env); !config.ok()) return config.status();
  const std::string location = AuditDbPath(flag, env);
  if (IsPostgresUrl(location)) {
    PgStoreOptions options;
    options.state_dir = StateDir(env);
    auto pg = PgAuditDatabase::Open(location, options);
    if (!pg.ok()) return pg.status();
    return std::unique_ptr<AuditStore>(std::move(pg.value()));
  }
  auto db = AuditDatabase::Open(location);
  if (!db.ok()) return db.status();
  return std::unique_ptr<AuditStore>(std::move(db.value()));
}


std::string OperatorName(const std::string& as, const Environment& env) {
  if (!as.empty()) return as;
  if (auto v = env.GetEnv("RUNBOOK_OPERATOR"); v && !v->empty()) return *v;
  if (auto config = LoadConfig(env); config.ok() && !config->operator_name.empty())
    return config->operator_name;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_name) return pw->pw_name;
  if (auto v = env.GetEnv("USER"); v && !v->empty()) return *v;
  return "unknown";
}

LoadedRunbook LoadRunbook(const std::string& path) {
  LoadedRunbook out;
  LoadResult r = LoadRunbookFile(path);
  out.diagnostics = std::move(r.diagnostics);
  out.runbook = std::move(r.runbook);
  if (!out.runbook) {
    size_t errors = 0;
    for (const Diagnostic& d : out.diagnostics)
      errors += d.severity == Diagnostic::Severity::kError;
    out.error_summary = path + ": " + std::to_string(errors) + " error" +
                        (errors == 1 ? "" : "s") + "; nothing was run";
    out.status = Status::Invalid(out.error_summary);
  }
  return out;
}

LoadedRunbook LoadRunbookWithParams(const std::string& path,
                                    const std::vector<std::string>& param_args) {
  LoadedRunbook out = LoadRunbook(path);
  if (!out.ok()) return out;
  auto given = ParseParamArgs(param_args);
  if (!given.ok()) {
    out.status = given.status();
    out.runbook.reset();
    return out;
  }
  auto bound = BindParams(*out.runbook, *given);
  if (!bound.ok()) {
    out.status = Status::Invalid(bound.message());
    out.runbook.reset();
    return out;
  }
  out.params = std::move(bound.value());
  if (Status targets = BindTargets(out.runbook.get(), out.params); !targets.ok()) {
    out.status = targets;
    out.runbook.reset();
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseParamArgs(const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (const std::string& a : args) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::Invalid("-p takes NAME=VALUE, got '" + a + "'");
    out[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return out;
}

}  // namespace runbook
