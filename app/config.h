// The settings file: where a team writes once what every command would otherwise need as a
// flag or an environment variable — the shared store's URL, the operator's name.
//
//   # ~/.config/runbook/config.yaml (or /etc/runbook/config.yaml for every user of a machine)
//   audit_db: postgresql://deploy@db.internal:5432/runbook
//   operator: alice
//
// A flag beats the environment, which beats this file (app/inputs.h says the order for each
// setting). The first file that exists is read: $XDG_CONFIG_HOME/runbook/config.yaml (when
// absolute, else ~/.config/runbook/config.yaml), then /etc/runbook/config.yaml. A password
// never belongs here: libpq reads it from ~/.pgpass (PGPASSFILE) or PGPASSWORD.
#pragma once

#include <string>

#include "engine/environment.h"
#include "engine/status.h"

namespace runbook {

struct Config {
  std::string path;           // the file read; "" when there is none
  std::string audit_db;       // a path (relative to the file's folder, ~ expanded) or a URL
  std::string operator_name;  // `operator:`
};

/// The settings file's location for this user, whether or not it exists.
std::string UserConfigPath(const Environment& env);

/// Reads the first settings file that exists (none: an empty Config). An unreadable file,
/// malformed YAML, an unknown key or a value that is not text is kInvalid, naming the file
/// and line, and a URL with a password in it is refused.
Result<Config> LoadConfig(const Environment& env, const std::string& system_path =
                                                      "/etc/runbook/config.yaml");

}  // namespace runbook
