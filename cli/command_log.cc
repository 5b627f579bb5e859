#include "cli/command_log.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>

#include "cli/common.h"

namespace runbook::cli {
namespace {

/// Lines kept while no file is open: a command's first few; a command that never opens a file
/// drops them at exit.
constexpr size_t kMaxWaiting = 256;

void AddTo(CLI::App* cmd, GlobalOptions* global) {
  cmd->add_option("--log-file", global->log_file,
                  "write a structured log to this file, rotated by size (10 MiB, 5 kept) "
                  "(default: log.file in the settings file, else for `run` the run's own "
                  "logs/RUN_ID.log beside the audit database; see docs/logging.md)");
  cmd->add_option("--log-format", global->log_format,
                  "the log's format: text, or json (one object a line, for Loki/ELK) "
                  "(default: log.format in the settings file, else text; a run's own "
                  "logs/RUN_ID.log is json)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-level", global->log_level,
                  "the lowest level logged: debug, info, warn or error (default: log.level in "
                  "the settings file, else info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  for (CLI::App* sub : cmd->get_subcommands([](CLI::App* a) { return !a->get_name().empty(); }))
    AddTo(sub, global);
}

}  // namespace

void AddLogOptions(CLI::App& app, GlobalOptions* global) {
  for (CLI::App* cmd : app.get_subcommands([](CLI::App* a) { return !a->get_name().empty(); }))
    AddTo(cmd, global);
}

void StartCommandLog(CLI::App& app, const GlobalOptions& global, const LogSettings& settings) {
  std::string command;
  for (CLI::App* cmd = &app;;) {
    std::vector<CLI::App*> chosen = cmd->get_subcommands();
    if (chosen.empty()) break;
    cmd = chosen.front();
    command += (command.empty() ? "" : " ") + cmd->get_name();
    if (const CLI::Option* param = cmd->get_option_no_throw("--param")) {
      for (const std::string& p : param->results()) {
        const size_t eq = p.find('=');
        CommandLog::Get().Mask(eq == std::string::npos ? p : p.substr(eq + 1));
      }
    }
  }
  CommandLog::Get().Start(global, settings, command);
}

CommandLog& CommandLog::Get() {
  static CommandLog log;
  return log;
}

void CommandLog::Start(const GlobalOptions& global, const LogSettings& settings,
                       const std::string& command) {
  std::unique_lock<std::mutex> lock(mu_);
  started_ = true;
  command_ = command;
  started_at_ = std::chrono::steady_clock::now();
  const std::string format = !global.log_format.empty() ? global.log_format : settings.format;
  const std::string level = !global.log_level.empty() ? global.log_level : settings.level;
  format_chosen_ = ParseLogFormat(format).has_value();
  format_ = ParseLogFormat(format).value_or(LogFormat::kText);
  level_ = ParseLogLevel(level).value_or(LogLevel::kInfo);
  const std::string file = !global.log_file.empty() ? global.log_file : settings.file;
  if (!file.empty()) OpenLocked(file);
  lock.unlock();
  LogRecord r = CommandRecord(LogLevel::kInfo, "command_started", "runbook " + command + " started");
  r.detail = {{"command", command}, {"pid", static_cast<int>(getpid())}};
  Write(r);
}

void CommandLog::OpenDefault(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_ || file_) return;
  // The run's own log is for a log system (SPEC section 7): JSON lines unless a format is set.
  if (!format_chosen_) format_ = LogFormat::kJson;
  OpenLocked(path);
}

void CommandLog::OpenLocked(const std::string& path) {
  LogFileOptions options;
  options.path = path;
  options.format = format_;
  options.level = level_;
  auto opened = OpenLogFile(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "runbook: warning: no log is written: %s\n", opened.message().c_str());
    waiting_.clear();
    return;
  }
  file_ = std::move(opened.value());
  path_ = path;
  for (const LogRecord& r : waiting_) file_->Write(r);
  waiting_.clear();
}

void CommandLog::SetRunId(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  run_id_ = run_id;
  for (LogRecord& r : waiting_)
    if (r.run_id.empty()) r.run_id = run_id;
}

void CommandLog::Mask(const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!value.empty()) masked_.Add(value);
}

LogRecord CommandLog::CommandRecord(LogLevel level, const std::string& event,
                                    const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  LogRecord r;
  r.ts = std::chrono::system_clock::now();
  r.level = level;
  r.run_id = run_id_;
  r.event = event;
  r.message = masked_.Redact(message);
  return r;
}

void CommandLog::Error(const std::string& message) {
  if (!started_) return;
  Write(CommandRecord(LogLevel::kError, "command_error", message));
}

void CommandLog::Finish(int exit_code) {
  if (!started_) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started_at_)
                      .count();
  LogRecord r = CommandRecord(exit_code == 0   ? LogLevel::kInfo
                              : exit_code == 1 ? LogLevel::kWarn
                                               : LogLevel::kError,
                              "command_finished",
                              "runbook " + command_ + " finished: exit " +
                                  std::to_string(exit_code) + " in " + std::to_string(ms) + " ms");
  r.detail = {{"command", command_}, {"exit_code", exit_code}, {"duration_ms", ms}};
  Write(r);
  std::lock_guard<std::mutex> lock(mu_);
  file_.reset();  // flushed and closed
  waiting_.clear();
}

void CommandLog::Write(const LogRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_ || static_cast<int>(record.level) < static_cast<int>(level_)) return;
  if (file_) {
    file_->Write(record);
  } else if (waiting_.size() < kMaxWaiting) {
    waiting_.push_back(record);
  }
}

bool CommandLog::Enabled(LogLevel level) const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_ && static_cast<int>(level) >= static_cast<int>(level_);
}

}  // namespace runbook::cli
