#include "app/structured_log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>

#include <filesystem>
#include <system_error>

#include "app/inputs.h"
#include "audit/audit_time.h"
#include "audit/pg_connection.h"

namespace runbook {
namespace fs = std::filesystem;

namespace {

/// Texts in a record's detail longer than this keep their last kDetailText bytes: an output
/// tail of 64 KiB would make a line too long for most log systems.
constexpr size_t kDetailText = 4096;

nlohmann::ordered_json CutLongTexts(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      if (s.size() <= kDetailText) return s;
      return "..." + s.substr(s.size() - kDetailText);
    }
    case nlohmann::json::value_t::object: {
      nlohmann::ordered_json out = nlohmann::ordered_json::object();
      for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = CutLongTexts(*it);
      return out;
    }
    case nlohmann::json::value_t::array: {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& v : value) out.push_back(CutLongTexts(v));
      return out;
    }
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      return nlohmann::ordered_json::parse(value.dump());
  }
  return nullptr;
}

spdlog::level::level_enum SpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

/// A log file through spdlog: one logger of its own (not in spdlog's registry), writing our
/// lines as they are ("%v"), flushed after each line so that a killed run leaves its log.
class FileLog : public LogSink {
 public:
  FileLog(std::shared_ptr<spdlog::logger> logger, LogFormat format)
      : logger_(std::move(logger)), format_(format) {}
  ~FileLog() override { logger_->flush(); }

  void Write(const LogRecord& record) override {
    const spdlog::level::level_enum level = SpdlogLevel(record.level);
    if (!logger_->should_log(level)) return;
    const std::string line = FormatLogLine(record, format_);
    // The overload that formats nothing: a message may hold braces.
    logger_->log(spdlog::source_loc{}, level, spdlog::string_view_t(line.data(), line.size()));
  }
  bool Enabled(LogLevel level) const override { return logger_->should_log(SpdlogLevel(level)); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogFormat format_;
};

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kText:
      return "text";
    case LogFormat::kJson:
      return "json";
  }
  return "text";
}

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string FormatLogLine(const LogRecord& r, LogFormat format) {
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  switch (format) {
    case LogFormat::kJson: {
      nlohmann::ordered_json j = {{"ts", FormatAuditTime(r.ts)},
                                  {"level", std::string(LogLevelName(r.level))},
                                  {"run_id", r.run_id},
                                  {"step", r.step},
                                  {"phase", r.phase},
                                  {"host", r.host},
                                  {"event", r.event},
                                  {"msg", r.message}};
      if (r.attempt > 0) j["attempt"] = r.attempt;
      if (r.detail.is_object() && !r.detail.empty()) j["detail"] = CutLongTexts(r.detail);
      return j.dump(-1, ' ', false, kReplace);
    }
    case LogFormat::kText: {
      std::string line = FormatAuditTime(r.ts) + " " + std::string(LogLevelName(r.level));
      auto field = [&line](const char* name, const std::string& value) {
        if (!value.empty()) line += std::string(" ") + name + "=" + value;
      };
      field("run", r.run_id);
      field("step", r.step);
      field("phase", r.phase);
      field("host", r.host);
      if (r.attempt > 0) field("attempt", std::to_string(r.attempt));
      line += " " + r.event + ": " + r.message;
      // One record, one line: a message with newlines would read as several records.
      for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
      // Through JSON's replacement of invalid UTF-8, without the quotes.
      const std::string clean = nlohmann::json(line).dump(-1, ' ', false, kReplace);
      return nlohmann::json::parse(clean).get<std::string>();
    }
  }
  return "";
}

Result<std::unique_ptr<LogSink>> OpenLogFile(const LogFileOptions& options) {
  if (options.path.empty()) return Status::Invalid("no log file given");
  std::error_code ec;
  const fs::path path = options.path;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create the log folder " + path.parent_path().string() + ": " +
                           ec.message());
  try {
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        options.path, options.max_bytes, options.max_files);
    auto logger = std::make_shared<spdlog::logger>("runbook", std::move(sink));
    logger->set_pattern("%v");
    logger->set_level(SpdlogLevel(options.level));
    logger->flush_on(spdlog::level::trace);
    // spdlog's default prints to stderr; a log that cannot be written must change nothing.
    logger->set_error_handler([](const std::string&) {});
    return std::unique_ptr<LogSink>(new FileLog(std::move(logger), options.format));
  } catch (const std::exception& e) {
    return Status::IOError("cannot open the log file " + options.path + ": " + e.what());
  }
}

std::string RunLogPath(const std::string& audit_location, const std::string& run_id,
                       const Environment& env) {
  fs::path folder;
  if (IsPostgresUrl(audit_location)) {
    folder = StateDir(env);
  } else {
    std::error_code ec;
    fs::path db = fs::absolute(audit_location, ec);
    folder = (ec ? fs::path(audit_location) : db).parent_path();
  }
  return (folder / "logs" / (run_id + ".log")).string();
}

}  // namespace runbook
