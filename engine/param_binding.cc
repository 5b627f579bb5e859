// Binding the values a run gets: `-p` params checked against their declarations, and secrets
// read from where the runbook says they live.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/loader.h"
#include "engine/pattern.h"

namespace runbook {

Result<std::map<std::string, std::string>> BindParams(
    const Runbook& runbook, const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> values;
  std::string errors;
  auto fail = [&](const std::string& message) {
    if (!errors.empty()) errors += "\n";
    errors += message;
  };
  std::set<std::string> declared;
  std::string names;
  for (const ParamSpec& p : runbook.params) {
    declared.insert(p.name);
    names += (names.empty() ? "" : ", ") + p.name;
  }
  for (const auto& [name, value] : given) {
    if (declared.count(name) == 0) {
      fail("unknown param '" + name + "'" +
           (names.empty() ? std::string(" (this runbook takes no params)")
                          : " (this runbook takes: " + names + ")"));
    }
  }
  for (const ParamSpec& p : runbook.params) {
    auto it = given.find(p.name);
    std::string value;
    if (it != given.end()) {
      value = it->second;
    } else if (p.default_value) {
      value = *p.default_value;
    } else if (p.required) {
      fail("missing required param '" + p.name + "' (pass -p " + p.name + "=VALUE)");
      continue;
    }
    if (!p.pattern.empty() && (it != given.end() || p.default_value)) {
      Result<Pattern> re = Pattern::Compile(p.pattern);
      if (!re.ok()) {
        fail("param '" + p.name + "': invalid pattern " + p.pattern + " (RE2: " + re.message() +
             ")");
        continue;
      }
      if (!re->FullMatch(value)) {
        fail("param '" + p.name + "' = '" + value + "' does not match " + p.pattern);
        continue;
      }
    }
    values[p.name] = value;
  }
  if (!errors.empty()) return Result<std::map<std::string, std::string>>::Error(errors);
  return values;
}

Result<std::map<std::string, std::string>> ResolveSecrets(const Runbook& runbook) {
  std::map<std::string, std::string> values;
  std::string errors;
  auto fail = [&](const std::string& message) {
    if (!errors.empty()) errors += "\n";
    errors += message;
  };
  for (const SecretSpec& s : runbook.secrets) {
    switch (s.source) {
      case SecretSpec::Source::kEnv: {
        const char* value = std::getenv(s.ref.c_str());
        if (value == nullptr) {
          fail("secret '" + s.name + "': environment variable " + s.ref + " is not set");
          continue;
        }
        values[s.name] = value;
        break;
      }
      case SecretSpec::Source::kFile: {
        std::error_code ec;
        if (std::filesystem::is_directory(s.ref, ec)) {
          fail("secret '" + s.name + "': " + s.ref + " is a directory, not a file");
          continue;
        }
        std::ifstream in(s.ref, std::ios::binary);
        if (!in) {
          fail("secret '" + s.name + "': cannot read file " + s.ref + ": " + std::strerror(errno));
          continue;
        }
        std::ostringstream buffer;
        buffer << in.rdbuf();
        std::string value = buffer.str();
        if (!value.empty() && value.back() == '\n') {
          value.pop_back();
          if (!value.empty() && value.back() == '\r') value.pop_back();
        }
        values[s.name] = std::move(value);
        break;
      }
    }
  }
  if (!errors.empty()) return Result<std::map<std::string, std::string>>::Error(errors);
  return values;
}

}  // namespace runbook
