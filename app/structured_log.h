// The structured log (docs/logging.md): one line per record, for people (text) or for a log
// system such as Loki or Elasticsearch (JSON lines). Written through spdlog to a file rotated
// by size.
//
// Format. A JSON line is one object with, in this order:
//   ts       RFC 3339 UTC with milliseconds, as the audit log writes times
//   level    debug | info | warn | error
//   run_id   the run the record is about; "" for a command's own lines before a run exists
//   step     the step id; "" for run-level and command-level records
//   phase    precheck | step | verify | rollback | run; "" for command-level records
//   host     the SSH host the record is about; "" otherwise
//   event    an audit event's name (engine/events.h), or command_started, command_finished,
//            command_error, log_error for the command's own lines
//   message  one line for people
// and, when they apply, `attempt` (the try number) and `detail` (the audit event's detail,
// long texts cut to their last 4 KiB). Every field comes from what the audit log records,
// which the executor has already redacted: a secret never reaches the log. The text format
// writes the same facts as `TS LEVEL run=.. step=.. phase=.. host=.. EVENT: MESSAGE`,
// leaving out empty fields.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/environment.h"
#include "engine/status.h"

namespace runbook {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

/// "debug" | "info" | "warn" | "error".
std::string_view LogLevelName(LogLevel level);
/// The level named `name` (also "warning"); nullopt for another name.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
/// "text" | "json".
std::string_view LogFormatName(LogFormat format);
std::optional<LogFormat> ParseLogFormat(std::string_view name);

/// One line of the log.
struct LogRecord {
  std::chrono::system_clock::time_point ts;
  LogLevel level = LogLevel::kInfo;
  std::string run_id;
  std::string step;
  std::string phase;
  std::string host;
  std::string event;
  std::string message;
  int attempt = 0;                                   // written when > 0
  nlohmann::json detail = nlohmann::json::object();  // written when not empty
};

/// `record` as one line (no newline) in `format`. Invalid UTF-8 is replaced, so that a JSON
/// line always parses.
std::string FormatLogLine(const LogRecord& record, LogFormat format);

/// Where log records go. Implementations are thread-safe: an SSH step's hosts report from
/// several threads. Writing never fails the caller: a log that cannot be written is the log's
/// problem, never the run's.
class LogSink {
 public:
  virtual ~LogSink() = default;
  /// Writes `record` when its level is at or above the sink's level.
  virtual void Write(const LogRecord& record) = 0;
  /// Whether a record of `level` would be written.
  virtual bool Enabled(LogLevel level) const = 0;
};

inline constexpr size_t kDefaultLogMaxBytes = 10 * 1024 * 1024;
inline constexpr size_t kDefaultLogMaxFiles = 5;

/// A log file and how it is written. The defaults keep at most 60 MiB per log: the file and 5
/// older ones (numbered before the extension: RUN_ID.1.log .. RUN_ID.5.log, .1 the newest),
/// each up to 10 MiB.
struct LogFileOptions {
  std::string path;
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
  size_t max_bytes = kDefaultLogMaxBytes;
  size_t max_files = kDefaultLogMaxFiles;  // rotated files kept besides the current one
};

/// Opens (creating its folder and the file, appending to a file that exists) a log file
/// rotated by size. kIOError when the file cannot be opened; a later write that fails is ignored
/// (the log is not the record: the audit log is).
Result<std::unique_ptr<LogSink>> OpenLogFile(const LogFileOptions& options);

/// The default log of run `run_id`: logs/RUN_ID.log in the audit database's folder, or for a
/// PostgreSQL store (`audit_location` a URL) in this user's state folder (app/inputs.h).
std::string RunLogPath(const std::string& audit_location, const std::string& run_id,
                       const Environment& env);

}  // namespace runbook
