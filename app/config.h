// The settings file: where a team writes once what every command would otherwise need as a
// flag or an environment variable — the shared store's URL, the operator's name.
//
//   # ~/.config/runbook/config.yaml (or /etc/runbook/config.yaml for every user of a machine)
//   audit_db: postgresql://deploy@db.internal:5432/runbook
//   operator: alice
//   defaults:                # flags a command gets when the command line does not give them
//     run: {json: true}
//     plans: {limit: 20}
//     audit verify: {json: true}
//   notify:                  # webhooks told about every run (docs/notifications.md)
//     - {url: "{{ env.DEPLOYS_WEBHOOK }}", on: [rollback_failed]}
//   log:                     # the structured log of every command (docs/logging.md)
//     file: /var/log/runbook/runbook.log   # default: a run's own logs/RUN_ID.log
//     format: json           # text | json
//     level: info            # debug | info | warn | error
//
// A flag beats the environment, which beats this file (app/inputs.h says the order for each
// setting). The file is $RUNBOOK_CONFIG when set (`runbook --config FILE` sets it), else the
// first that exists of $XDG_CONFIG_HOME/runbook/config.yaml (when absolute, else
// ~/.config/runbook/config.yaml) and /etc/runbook/config.yaml. A password
// never belongs here: libpq reads it from ~/.pgpass (PGPASSFILE) or PGPASSWORD.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/environment.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

/// One default flag of one command, from `defaults:`.
struct FlagDefault {
  std::string name;                 // the long flag without dashes: "json", "limit"
  std::vector<std::string> values;  // one for a value; several for a flag taken many times;
                                    // "true"/"false" for a switch
  int line = 0;                     // where it is in the file, for messages
};

/// `notify:`: webhooks told about every run and approval of this machine's users, besides the
/// runbook's own (docs/notifications.md). The same shape as a runbook's `notify:`; a webhook
/// may take its URL from the environment (`{{ env.SLACK_WEBHOOK }}`), never from the file's
/// text alone when it is a credential.
struct NotifySettings {
  std::vector<NotifyTarget> targets;
};

/// `log:`: where every command writes its structured log and how, unless its command line says
/// otherwise (--log-file, --log-format, --log-level). Empty fields are not set.
struct LogSettings {
  std::string file;    // a path (relative to the file's folder, ~ expanded)
  std::string format;  // "text" | "json"
  std::string level;   // "debug" | "info" | "warn" | "error"
};

struct Config {
  std::string path;           // the file read; "" when there is none
  std::string audit_db;       // a path (relative to the file's folder, ~ expanded) or a URL
  std::string operator_name;  // `operator:`
  /// `defaults:`, by command ("run", "audit verify"): what the command line does not give.
  /// Which commands and flags exist is the command line's to check (cli/).
  std::map<std::string, std::vector<FlagDefault>> defaults;
  NotifySettings notify;
  LogSettings log;  // `log:`
};

/// The settings file's location for this user, whether or not it exists.
std::string UserConfigPath(const Environment& env);

/// Reads $RUNBOOK_CONFIG (which must exist), else the first settings file that exists (none:
/// an empty Config). An unreadable file,
/// malformed YAML, an unknown key or a value that is not text is kInvalid, naming the file
/// and line, and a URL with a password in it is refused.
Result<Config> LoadConfig(const Environment& env, const std::string& system_path =
                                                      "/etc/runbook/config.yaml");

}  // namespace runbook
