// The `runbook` binary: parses the command line (CLI11) and hands each command to its
// function in commands.h; each command family declares its own arguments there. Usage errors
// exit 2 (SPEC §4).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "audit/library_versions.h"
#include "cli/build_info.h"  // generated: cmake/build_info.cmake
#include "cli/command_log.h"
#include "cli/commands.h"
#include "cli/suggest.h"
#include "steps/library_versions.h"

namespace {

using namespace runbook::cli;

/// The settings file's `defaults:` as CLI11 configuration: CLI11 gives each flag of the
/// command being run its default when the command line did not give it (the command line
/// wins), before the command runs. The file itself is read by app/config.h.
class SettingsDefaults : public CLI::Config {
 public:
  explicit SettingsDefaults(const runbook::Config& config) : config_(config) {}
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }
  std::vector<CLI::ConfigItem> from_config(std::istream&) const override {
    std::vector<CLI::ConfigItem> items;
    for (const auto& [command, flags] : config_.defaults) {
      std::vector<std::string> parents;
      std::istringstream words(command);
      for (std::string w; words >> w;) parents.push_back(w);
      for (const runbook::FlagDefault& flag : flags) items.push_back({parents, flag.name, flag.values});
    }
    return items;
  }

 private:
  const runbook::Config& config_;
};

/// Checks that every command and flag `defaults:` names exists: a typo there would otherwise
/// be silently ignored. "" when they all do, else the message.
std::string CheckDefaults(CLI::App& app, const runbook::Config& config) {
  for (const auto& [command, flags] : config.defaults) {
    CLI::App* cmd = &app;
    std::istringstream words(command);
    for (std::string w; words >> w;) {
      try {
        cmd = cmd->get_subcommand(w);
      } catch (const CLI::OptionNotFound&) {
        return config.path + ": error: defaults: there is no command `runbook " + command + "`";
      }
    }
    for (const runbook::FlagDefault& flag : flags) {
      const CLI::Option* opt = cmd->get_option_no_throw("--" + flag.name);
      if (opt == nullptr || !opt->get_configurable())
        return config.path + ":" + std::to_string(flag.line) + ": error: defaults: `runbook " +
               command + "` has no flag --" + flag.name + " (see `runbook " + command +
               " --help`)";
    }
  }
  return "";
}

/// What `runbook --version` prints: the version, the build, and the libraries as linked.
std::string VersionText() {
  return std::string("runbook ") + RUNBOOK_VERSION + "\ncommit " + RUNBOOK_GIT_COMMIT + ", " +
         (std::string(RUNBOOK_BUILD_TYPE).empty() ? "default" : RUNBOOK_BUILD_TYPE) +
         " build\n" + "yaml-cpp " + RUNBOOK_YAML_CPP_VERSION + ", libssh2 " +
         runbook::Libssh2Version() + ", libcurl " + runbook::LibcurlVersion() + ", SQLite " +
         runbook::SqliteVersion() + ", RE2 " + RUNBOOK_RE2_VERSION + ", libpq " +
         runbook::LibpqVersion();
}

/// The environment variables runbook reads, as the footer of `runbook --help`. The manual
/// page says the same under ENVIRONMENT; docs/man/man_page_test.py checks that both name
/// every variable the code reads.
constexpr const char* kEnvironmentHelp = R"(Environment:
  RUNBOOK_CONFIG              the settings file, as --config (which wins)
  RUNBOOK_AUDIT_DB            the audit database, as --audit-db (which wins)
  RUNBOOK_OPERATOR            who acts when --as is not given (before the settings file's
                              `operator`, then the login name)
  NO_COLOR                    when set and not empty: no colours (used only on a terminal)
  TERM                        dumb: no colours and no live status line
  RUNBOOK_PROGRESS_INTERVAL   how often a long step prints a progress line when stderr is
                              not a terminal (default 10s; 0: never)
  XDG_CONFIG_HOME             when absolute: the settings file is
                              $XDG_CONFIG_HOME/runbook/config.yaml, not ~/.config/...
  XDG_STATE_HOME              when absolute: the default audit database is
                              $XDG_STATE_HOME/runbook/audit.db, not ~/.local/state/...
  HOME                        ~ in paths, ~/.config, ~/.local/state, ~/.ssh/known_hosts
  USER                        the default SSH user, and the operator when nothing else says
  SSH_AUTH_SOCK               the ssh-agent of SSH targets without an identity_file
  PATH                        where shell steps' programs, kubectl and ssh-keygen are found
  RUNBOOK_TEST_CRASH_AFTER_EVENT
                              test builds only: kill `run` or `recover` after its K-th audit
                              record; never set it otherwise
A runbook also reads the variables it names ({{ env.NAME }}, a secret's {env: NAME}); libpq
and libcurl read their own (PGPASSWORD, https_proxy, ...). More in runbook(1): man runbook.)";

/// The names of `app`'s commands.
std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

/// "runbook: unknown command 'rnu'; did you mean `run`?" and what to do next.
int UnknownCommand(const CLI::App& app, const std::string& typed, const std::string& in = "") {
  const std::string closest = Closest(typed, CommandNames(app));
  std::fprintf(stderr, "runbook: unknown command '%s%s'%s\n", in.c_str(), typed.c_str(),
               closest.empty() ? "" : ("; did you mean `runbook " + in + closest + "`?").c_str());
  std::fprintf(stderr, "run `runbook %s--help` for the commands\n", in.c_str());
  return runbook::kExitInvalid;
}

/// `runbook help [COMMAND...]`: the help of that command, as `runbook COMMAND --help`.
int Help(CLI::App& app, const std::vector<std::string>& words) {
  CLI::App* cmd = &app;
  std::string path;  // the words before cmd's own, as its usage line shows them
  for (const std::string& w : words) {
    CLI::App* sub = nullptr;
    try {
      sub = cmd->get_subcommand(w);
    } catch (const CLI::OptionNotFound&) {
      return UnknownCommand(*cmd, w, path);
    }
    path += (cmd == &app ? std::string() : cmd->get_name() + " ");
    cmd = sub;
  }
  // help(PREV) shows "PREV NAME" in the usage line, as `runbook audit verify --help` does.
  if (!path.empty()) path.pop_back();
  std::printf("%s", cmd == &app ? app.help().c_str()
                                : cmd->help(path.empty() ? "runbook" : "runbook " + path).c_str());
  return 0;
}

/// The flags `cmd` knows, as typed: "--json", "-p".
std::vector<std::string> FlagNames(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    for (const std::string& sn : opt->get_snames()) names.push_back("-" + sn);
  }
  return names;
}

/// After a parse error: for each argument `cmd` did not expect that looks like a mistyped
/// flag, the flag it probably meant.
void SuggestFlags(const CLI::App& cmd) {
  for (const std::string& extra : cmd.remaining()) {
    if (extra.size() < 2 || extra[0] != '-') continue;
    const std::string name = extra.substr(0, extra.find('='));
    const std::string closest = Closest(name, FlagNames(cmd));
    if (!closest.empty())
      std::fprintf(stderr, "runbook: %s: did you mean %s?\n", name.c_str(), closest.c_str());
  }
}

/// `--config FILE` before the command: the settings file to use instead of the usual ones,
/// passed on to app/ as $RUNBOOK_CONFIG (app/config.h).
void TakeConfigFlag(int argc, char** argv) {
  for (int i = 1; i < argc && argv[i][0] == '-'; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      setenv("RUNBOOK_CONFIG", argv[i + 1], 1);
      return;
    }
    if (std::strncmp(argv[i], "--config=", 9) == 0) {
      setenv("RUNBOOK_CONFIG", argv[i] + 9, 1);
      return;
    }
  }
}

int Main(int argc, char** argv) {
  CLI::App app{
      "runbook: run deployments from YAML runbooks, roll them back by themselves when "
      "anything fails, and keep a tamper-evident audit log.\n"
      "Start with `runbook validate FILE`, then `runbook plan FILE`, then `runbook run FILE`."};
  app.name("runbook");  // in usage lines, rather than the path it was started by
  app.require_subcommand(1);
  // A function, not its text: the text names libcurl's and libpq's versions, and asking
  // for them loads those libraries, which runbook does only when it needs them.
  app.set_version_flag("--version", std::function<std::string()>(VersionText),
                       "print the version, the build and the libraries it links, and exit");
  // `runbook --help` lists the commands in the order they are created, which is not by
  // family: create them all here; each family then adds its arguments (commands.h).
  for (const char* name : {"validate", "plan", "graph", "run", "runs", "stats", "replay", "audit",
                           "recover", "report", "plans", "approve", "reject", "serve", "schema"}) {
    app.add_subcommand(name);
  }
  // What the command line is parsed into: CLI11 refers to these until Main returns.
  GlobalOptions global;
  RunbookCommandArgs runbook_args;
  RunCommandArgs run_args;
  PlanCommandArgs plan_args;
  AuditCommandArgs audit_args;
  ServeCommandOptions serve_args;
  int code = 0;  // set by the command's callback
  AddRunbookCommands(app, global, runbook_args, code);
  AddRunCommands(app, global, run_args, code);
  AddPlanCommands(app, global, plan_args, code);
  AddAuditCommands(app, global, audit_args, code);
  AddServeCommands(app, global, serve_args, code);
  AddLogOptions(app, &global);  // after every command is added: each gets --log-*
  // After the commands are made, which would otherwise copy it: on `runbook --help` only.
  app.footer(kEnvironmentHelp);

  TakeConfigFlag(argc, argv);
  runbook::Result<runbook::Config> config = runbook::LoadConfig(SystemEnv());
  if (!config.ok()) {
    std::fprintf(stderr, "runbook: %s\n", config.message().c_str());
    return runbook::kExitInvalid;
  }
  if (std::string bad = CheckDefaults(app, *config); !bad.empty()) {
    std::fprintf(stderr, "runbook: %s\n", bad.c_str());
    return runbook::kExitInvalid;
  }
  app.config_formatter(std::make_shared<SettingsDefaults>(*config));
  app.set_config("--config", config->path,
                 "the settings file (default: $RUNBOOK_CONFIG, else "
                 "~/.config/runbook/config.yaml, else /etc/runbook/config.yaml); its "
                 "`defaults:` give commands the flags their command line leaves out");
  // The first word that is not a flag before it names the command.
  int first = 1;
  while (first < argc && argv[first][0] == '-') {
    first += std::strcmp(argv[first], "--config") == 0 ? 2 : 1;
  }
  if (first < argc) {
    const std::string word = argv[first];
    if (word == "help") return Help(app, std::vector<std::string>(argv + first + 1, argv + argc));
    if (word == "serve") {
      if (const int served = ServeElsewhere(argc, argv); served >= 0) return served;
    }
    const std::vector<std::string> names = CommandNames(app);
    if (std::find(names.begin(), names.end(), word) == names.end())
      return UnknownCommand(app, word);
  }
  app.parse_complete_callback([&] { StartCommandLog(app, global, config->log); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // The deepest command given is the one whose words were meant.
    const CLI::App* cmd = &app;
    std::string path;
    for (std::vector<CLI::App*> subs = app.get_subcommands(); !subs.empty();
         subs = subs.front()->get_subcommands()) {
      cmd = subs.front();
      path += cmd->get_name() + " ";
    }
    if (cmd != &app && !CommandNames(*cmd).empty()) {  // `runbook audit vrify`
      for (const std::string& extra : cmd->remaining())
        if (!extra.empty() && extra[0] != '-')
          return UnknownCommand(*cmd, extra, path);
    }
    app.exit(e);
    SuggestFlags(*cmd);
    std::fprintf(stderr, "run `runbook --help` or `runbook COMMAND --help` for usage\n");
    return runbook::kExitInvalid;
  }
  CommandLog::Get().Finish(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    // Library code returns errors as values; this is the last line of defence.
    std::fprintf(stderr, "runbook: internal error: %s\n", e.what());
    return 70;
  }
}
