// The `runbook` binary: parses the command line (CLI11) and hands each command to its
// function in commands.h; each command family declares its own arguments there. Usage errors
// exit 2 (SPEC §4).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>

#include "app/config.h"
#include "cli/command_log.h"
#include "cli/commands.h"

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
  app.require_subcommand(1);
  app.set_version_flag("--version", "runbook 0.1.0");
  // `runbook --help` lists the commands in the order they are created, which is not by
  // family: create them all here; each family then adds its arguments (commands.h).
  for (const char* name : {"validate", "plan", "graph", "run", "runs", "replay", "audit",
                           "recover", "report", "plans", "approve", "reject", "schema"}) {
    app.add_subcommand(name);
  }
  // What the command line is parsed into: CLI11 refers to these until Main returns.
  GlobalOptions global;
  RunbookCommandArgs runbook_args;
  RunCommandArgs run_args;
  PlanCommandArgs plan_args;
  AuditCommandArgs audit_args;
  int code = 0;  // set by the command's callback
  AddRunbookCommands(app, global, runbook_args, code);
  AddRunCommands(app, global, run_args, code);
  AddPlanCommands(app, global, plan_args, code);
  AddAuditCommands(app, global, audit_args, code);
  AddLogOptions(app, &global);  // after every command is added: each gets --log-*

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
    app.exit(e);
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
