#include "app/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "engine/loader.h"
#include "engine/template.h"

namespace runbook {
namespace fs = std::filesystem;

namespace {

std::string Home(const Environment& env) {
  auto home = env.GetEnv("HOME");
  return home && !home->empty() ? *home : "/";
}

/// `user:password@` in a URL: a password that would end up in shell history and logs.
bool HasPassword(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  const size_t at = url.find('@', scheme + 3);
  const size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return false;
  return url.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos;
}

// "LINE:COL: error: MESSAGE" at `node`.
Status At(const YAML::Node& node, const std::string& message) {
  const YAML::Mark mark = node.Mark();
  return Status::Invalid(std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
                         ": error: " + message);
}

// `defaults:` — COMMAND: {FLAG: VALUE | [VALUE, ...]}.
Status ParseDefaults(const YAML::Node& node, Config* config) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsMap())
    return At(node, "defaults: expected a mapping of commands to their flags, e.g. "
                    "`run: {json: true}`");
  for (const auto& command : node) {
    const std::string name = command.first.IsScalar() ? command.first.Scalar() : "";
    if (name.empty()) return At(command.first, "defaults: expected a command name");
    if (!command.second.IsMap())
      return At(command.second, "defaults." + name + ": expected a mapping of flags to values");
    std::vector<FlagDefault>& flags = config->defaults[name];
    for (const auto& flag : command.second) {
      FlagDefault d;
      d.name = flag.first.IsScalar() ? flag.first.Scalar() : "";
      d.line = flag.first.Mark().line + 1;
      if (d.name.rfind("--", 0) == 0) d.name = d.name.substr(2);
      const std::string where = "defaults." + name + "." + d.name;
      if (d.name.empty()) return At(flag.first, "defaults." + name + ": expected a flag name");
      if (flag.second.IsScalar()) {
        d.values.push_back(flag.second.Scalar());
      } else if (flag.second.IsSequence()) {
        for (const auto& v : flag.second) {
          if (!v.IsScalar()) return At(v, where + ": expected a value");
          d.values.push_back(v.Scalar());
        }
      } else {
        return At(flag.second, where + ": expected a value or a list of values");
      }
      flags.push_back(std::move(d));
    }
  }
  return Status::Ok();
}

// `notify:` — [{url: URL, on: [...], timeout: 5s, ca_file: F, insecure: B}, ...].
Status ParseNotifySettings(const YAML::Node& node, const std::string& path,
                           const std::string& home, NotifySettings* out) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsSequence())
    return At(node, "notify: expected a list of webhooks, e.g. "
                    "`- {url: \"{{ env.SLACK_WEBHOOK }}\", on: [rollback_failed]}`");
  for (const auto& item : node) {
    if (!item.IsMap()) return At(item, "notify: expected {url: URL, on: [...]}");
    NotifyTarget t;
    t.loc = {item.Mark().line + 1, item.Mark().column + 1};
    for (const auto& kv : item) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const YAML::Node& v = kv.second;
      if (key == "on") {
        if (!v.IsSequence()) return At(v, "notify: on: expected a list of event names");
        for (const auto& name : v) {
          std::optional<NotifyEvent> event;
          if (name.IsScalar()) event = ParseNotifyEvent(name.Scalar());
          if (!event) {
            std::string known;
            for (int i = 0; i < kNotifyEventCount; ++i)
              known += std::string(i ? ", " : "") + NotifyEventName(static_cast<NotifyEvent>(i));
            return At(name, "notify: unknown event '" + (name.IsScalar() ? name.Scalar() : "") +
                                "' (known: " + known + ")");
          }
          t.events.push_back(*event);
        }
        continue;
      }
      if (!v.IsScalar() || v.Scalar().empty()) return At(v, "notify: " + key + ": expected text");
      const std::string text = v.Scalar();
      if (key == "url") {
        Template tmpl;
        TemplateError error;
        if (!ParseTemplate(text, Quoting::kNone, &tmpl, &error))
          return At(v, "notify: url: " + error.message);
        for (const Template::Piece& piece : tmpl.pieces)
          if (piece.is_ref && piece.ref.kind != TemplateRef::Kind::kEnv)
            return At(v, "notify: url: only {{ env.NAME }} can be used in the settings file");
        if (!tmpl.has_refs() && text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0)
          return At(v, "notify: url: '" + text + "' is not an http:// or https:// URL");
        t.webhook = text;
      } else if (key == "timeout") {
        if (!ParseDuration(text, &t.timeout) || t.timeout.count() <= 0)
          return At(v, "notify: timeout: '" + text + "' is not a duration such as 5s");
      } else if (key == "ca_file") {
        fs::path p = text.rfind("~/", 0) == 0 ? fs::path(home) / text.substr(2) : fs::path(text);
        if (p.is_relative()) p = fs::path(path).parent_path() / p;
        t.ca_file = p.lexically_normal().string();
      } else if (key == "insecure") {
        if (text != "true" && text != "false")
          return At(v, "notify: insecure: expected true or false");
        t.insecure = text == "true";
      } else {
        return At(kv.first, "notify: unknown key '" + key +
                                "' (known: url, on, timeout, ca_file, insecure)");
      }
    }
    if (t.webhook.empty()) return At(item, "notify: missing 'url' (the URL to post to)");
    out->targets.push_back(std::move(t));
  }
  return Status::Ok();
}

/// A path as the settings file writes it: `~` expanded, relative to the file's folder.
std::string SettingsPath(const std::string& value, const std::string& file,
                         const std::string& home) {
  fs::path p = value;
  if (value == "~") p = home;
  if (value.rfind("~/", 0) == 0) p = fs::path(home) / value.substr(2);
  if (p.is_relative()) p = fs::path(file).parent_path() / p;
  return p.lexically_normal().string();
}

// `log:` — {file: PATH, format: text|json, level: debug|info|warn|error}.
Status ParseLogSettings(const YAML::Node& node, const std::string& file, const std::string& home,
                        LogSettings* log) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsMap())
    return At(node, "log: expected a mapping, e.g. `{file: runbook.log, format: json}`");
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (!kv.second.IsScalar() || kv.second.Scalar().empty())
      return At(kv.second, "log." + key + ": expected text");
    const std::string value = kv.second.Scalar();
    if (key == "file") {
      log->file = SettingsPath(value, file, home);
    } else if (key == "format") {
      if (value != "text" && value != "json")
        return At(kv.second, "log.format: '" + value + "' is not text or json");
      log->format = value;
    } else if (key == "level") {
      if (value != "debug" && value != "info" && value != "warn" && value != "error")
        return At(kv.second, "log.level: '" + value + "' is not debug, info, warn or error");
      log->level = value;
    } else {
      return At(kv.first, "log: unknown key '" + key + "' (known: file, format, level)");
    }
  }
  return Status::Ok();
}

Result<Config> Parse(const std::string& path, const std::string& text, const std::string& home) {
  auto invalid = [&path](const YAML::Mark& mark, const std::string& message) {
    std::string where = path;
    if (mark.line >= 0) where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    return Result<Config>(Status::Invalid(where + ": error: " + message));
  };
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid(e.mark, "invalid YAML: " + e.msg);
  }
  Config config;
  config.path = path;
  if (root.IsNull()) return config;
  if (!root.IsMap())
    return invalid(root.Mark(), "expected a mapping of settings (audit_db, operator, defaults)");
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (key == "defaults") {
      if (Status s = ParseDefaults(kv.second, &config); !s.ok())
        return Status::Invalid(path + ":" + s.message());
      continue;
    }
    if (key == "notify") {
      if (Status s = ParseNotifySettings(kv.second, path, home, &config.notify); !s.ok())
        return Status::Invalid(path + ":" + s.message());
      continue;
    }
    if (key == "log") {
      if (Status s = ParseLogSettings(kv.second, path, home, &config.log); !s.ok())
        return Status::Invalid(path + ":" + s.message());
      continue;
    }
    std::string* target = key == "audit_db" ? &config.audit_db
                          : key == "operator" ? &config.operator_name
                                              : nullptr;
    if (target == nullptr)
      return invalid(kv.first.Mark(),
                     "unknown setting '" + key + "' (known: audit_db, operator, defaults, notify, log)");
    if (!kv.second.IsScalar() || kv.second.Scalar().empty())
      return invalid(kv.second.Mark(), key + ": expected text");
    *target = kv.second.Scalar();
  }
  if (HasPassword(config.audit_db)) {
    return invalid(root["audit_db"].Mark(),
                   "audit_db: a password in the URL would be copied into logs and shell "
                   "history; remove it and give it in ~/.pgpass (PGPASSFILE) or PGPASSWORD");
  }
  if (!config.audit_db.empty() && config.audit_db.find("://") == std::string::npos) {
    fs::path p = config.audit_db;
    if (config.audit_db == "~") p = home;
    if (config.audit_db.rfind("~/", 0) == 0) p = fs::path(home) / config.audit_db.substr(2);
    if (p.is_relative()) p = fs::path(path).parent_path() / p;
    config.audit_db = p.lexically_normal().string();
  }
  return config;
}

}  // namespace

std::string UserConfigPath(const Environment& env) {
  if (auto xdg = env.GetEnv("XDG_CONFIG_HOME"); xdg && !xdg->empty() && (*xdg)[0] == '/')
    return *xdg + "/runbook/config.yaml";
  return Home(env) + "/.config/runbook/config.yaml";
}

Result<Config> LoadConfig(const Environment& env, const std::string& system_path) {
  if (auto chosen = env.GetEnv("RUNBOOK_CONFIG"); chosen && !chosen->empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(*chosen, ec))
      return Status::Invalid(*chosen + ": error: no such settings file (RUNBOOK_CONFIG, --config)");
    std::ifstream in(*chosen, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return Parse(*chosen, text.str(), Home(env));
  }
  for (const std::string& path : {UserConfigPath(env), system_path}) {
    std::error_code ec;
    if (path.empty() || !fs::exists(path, ec)) continue;
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof())
      return Status::Invalid(path + ": error: cannot read the settings file");
    return Parse(path, text.str(), Home(env));
  }
  return Config{};
}

}  // namespace runbook
