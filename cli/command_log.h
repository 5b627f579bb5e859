// The command's structured log (docs/logging.md, app/structured_log.h): every command can
// write one, chosen by --log-file, --log-format and --log-level, else by the settings file's
// `log:`. A run writes its own, logs/RUN_ID.log beside the audit database, when neither names
// a file. The log gets the command's own lines (started, finished, errors) from here and a
// run's audit records from app/ (RunService::Execute, which is handed this log as a LogSink).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/structured_log.h"
#include "engine/redactor.h"

namespace CLI {
class App;
}

namespace runbook::cli {

struct GlobalOptions;

/// Adds --log-file, --log-format and --log-level to every command under `app` (CLI11 gives
/// each command its own flags), parsed into `global`.
void AddLogOptions(CLI::App& app, GlobalOptions* global);

/// Starts the process's log (CommandLog::Start) for the command `app`'s command line chose,
/// masking the values of its -p/--param flags. For main.cc, once the command line is parsed.
void StartCommandLog(CLI::App& app, const GlobalOptions& global, const LogSettings& settings);

/// The process's log. Lines written before a file is open wait in memory (a run's own file is
/// known only once the run has its id) and go to the file when one opens; without a file they
/// are dropped. Thread-safe.
class CommandLog : public LogSink {
 public:
  static CommandLog& Get();

  /// Settles the format, level and file (flags over `settings`) and logs command_started for
  /// `command` ("run", "audit verify"). Opens the file when one is named; a file that cannot
  /// be opened is a warning on stderr, and the command goes on without a log.
  void Start(const GlobalOptions& global, const LogSettings& settings, const std::string& command);
  /// Opens `path` unless a file is open already: a run's default log, in JSON lines unless
  /// --log-format or the settings file chose a format.
  void OpenDefault(const std::string& path);
  /// Later lines, and the waiting ones without a run id, are about run `run_id`.
  void SetRunId(const std::string& run_id);
  /// Masks `value` in the command's own lines (the command line's -p values: before a runbook
  /// is loaded nothing tells a secret param from another).
  void Mask(const std::string& value);
  /// A command_error line (what PrintError prints).
  void Error(const std::string& message);
  /// command_finished with the exit code.
  void Finish(int exit_code);

  void Write(const LogRecord& record) override;
  bool Enabled(LogLevel level) const override;

 private:
  CommandLog() = default;
  LogRecord CommandRecord(LogLevel level, const std::string& event, const std::string& message);
  void OpenLocked(const std::string& path);

  mutable std::mutex mu_;
  bool started_ = false;
  LogFormat format_ = LogFormat::kText;
  bool format_chosen_ = false;  // by --log-format or the settings file
  LogLevel level_ = LogLevel::kInfo;
  std::unique_ptr<LogSink> file_;
  std::string path_;
  std::vector<LogRecord> waiting_;
  std::string command_;
  std::string run_id_;
  Redactor masked_;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace runbook::cli
