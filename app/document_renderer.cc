#include "app/document_renderer.h"

#include <kainjow/mustache.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "app/html.h"

namespace runbook {
namespace {

namespace mustache = kainjow::mustache;

// JSON as mustache data. Empty strings and null are false, as mustache.js treats them, so that
// {{#owner}}owner: {{owner}}{{/owner}} shows nothing for a runbook without an owner; numbers
// are their JSON text.
mustache::data ToData(const nlohmann::json& j) {
  using Type = nlohmann::json::value_t;
  switch (j.type()) {
    case Type::object: {
      mustache::data d(mustache::data::type::object);
      for (const auto& [key, value] : j.items()) d.set(key, ToData(value));
      return d;
    }
    case Type::array: {
      mustache::data d(mustache::data::type::list);
      for (const auto& value : j) d.push_back(ToData(value));
      return d;
    }
    case Type::string: {
      const auto& s = j.get_ref<const std::string&>();
      return s.empty() ? mustache::data(false) : mustache::data(s);
    }
    case Type::boolean:
      return mustache::data(j.get<bool>());
    case Type::number_integer:
    case Type::number_unsigned:
    case Type::number_float:
      return mustache::data(j.dump());
    case Type::null:
    case Type::binary:
    case Type::discarded:
      return mustache::data(false);
  }
  return mustache::data(false);
}

// kainjow/mustache 4.1 drops a line that holds only section tags when it renders the section,
// but leaves a blank line behind the closing tag of a section it skips, and behind a comment
// alone on its line. An empty inverted section of a name no context has, put after such a tag,
// makes the library treat the line as the Mustache spec says: as if it were not there.
std::string DropStandaloneLines(const std::string& text) {
  static const std::regex kTagsOnly(R"(^[ \t]*(\{\{[#^/!][^}]*\}\}[ \t]*)+\r?$)");
  static const std::string kMarker = "{{^runbook.standalone}}{{/runbook.standalone}}";
  std::string out;
  out.reserve(text.size() + 256);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if ((line.find("{{/") != std::string::npos || line.find("{{!") != std::string::npos) &&
        std::regex_match(line, kTagsOnly)) {
      const bool cr = !line.empty() && line.back() == '\r';
      line.insert(line.size() - (cr ? 1 : 0), kMarker);
    }
    out += line;
    if (end < text.size()) out += '\n';
    pos = end + 1;
  }
  return out;
}

// The library's message ("Unclosed section \"steps\" at 1234") as a compiler writes it:
// "NAME:LINE:COL: error: unclosed section "steps"".
std::string ParseError(std::string_view name, const std::string& text, const std::string& error) {
  static const std::regex kAt(R"(^(.*) at ([0-9]+)$)");
  std::string what = error;
  std::string where(name);
  if (std::smatch m; std::regex_match(error, m, kAt)) {
    what = m[1];
    const size_t offset = std::min<size_t>(std::stoul(m[2]), text.size());
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    where += ":" + std::to_string(line) + ":" + std::to_string(col);
  }
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return where + ": error: " + what;
}

// kInvalid when `tmpl` does not parse. Parsed as written, so that an error's line and column
// are the file's.
Status CheckTemplate(const DocumentTemplate& tmpl) {
  mustache::mustache parsed(tmpl.text);
  if (parsed.is_valid()) return Status::Ok();
  return Status::Invalid(ParseError(tmpl.name, tmpl.text, parsed.error_message()));
}

}  // namespace

Result<std::string> RenderDocument(const DocumentTemplate& source, const nlohmann::json& context,
                                   Escaping escaping) {
  const std::string& template_name = source.name;
  try {
    if (Status s = CheckTemplate(source); !s.ok()) return s;
    mustache::mustache tmpl(DropStandaloneLines(source.text));
    switch (escaping) {
      case Escaping::kHtml:
        tmpl.set_custom_escape([](const std::string& s) { return HtmlEscape(s); });
        break;
      case Escaping::kNone:
        tmpl.set_custom_escape([](const std::string& s) { return s; });
        break;
    }
    std::string out = tmpl.render(ToData(context));
    if (!tmpl.is_valid())
      return Status::Invalid(template_name + ": error: " + tmpl.error_message());
    return out;
  } catch (const std::exception& e) {
    return Status::Invalid(template_name + ": error: " + e.what());
  }
}

Result<DocumentTemplate> ReadTemplateFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return Status::NotFound("cannot read the template " + path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    return Status::Invalid("cannot read the template " + path + ": it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read the template " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read the template " + path + ": read error");
  DocumentTemplate tmpl{path, text.str()};
  try {
    if (Status s = CheckTemplate(tmpl); !s.ok()) return s;
  } catch (const std::exception& e) {
    return Status::Invalid(path + ": error: " + e.what());
  }
  return tmpl;
}

}  // namespace runbook
