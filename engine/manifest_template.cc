#include "engine/manifest_template.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include "engine/placeholder.h"
#include "engine/yaml_reader.h"

namespace runbook {
namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// Whether a placeholder body starting with `word` is meant as one of ours.
bool IsOurs(std::string_view word) {
  static constexpr std::array<std::string_view, 6> kRoots = {"params", "secrets", "steps",
                                                             "run",    "env",     "raw"};
  for (std::string_view root : kRoots)
    if (word == root) return true;
  // A near miss of a long root is a typo of ours, not someone else's template.
  static constexpr std::array<std::string_view, 3> kLong = {"params", "secrets", "steps"};
  if (word.size() < 4) return false;
  for (std::string_view root : kLong)
    if (EditDistance(word, root, 2) <= 2) return true;
  return false;
}

}  // namespace

ManifestTemplate ParseManifestTemplate(std::string_view text) {
  ManifestTemplate out;
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    Template::Piece piece;
    piece.literal = std::move(literal);
    literal.clear();
    out.tmpl.pieces.push_back(std::move(piece));
  };
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    const size_t close = open == std::string_view::npos ? open : text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      literal.append(text.substr(pos));
      break;
    }
    literal.append(text.substr(pos, open - pos));
    const std::string_view written = text.substr(open, close + 2 - open);
    size_t b = open + 2;
    while (b < close && (text[b] == ' ' || text[b] == '\t')) ++b;
    size_t e = b;
    while (e < close && IsWordChar(text[e])) ++e;
    if (!IsOurs(text.substr(b, e - b))) {  // someone else's template: text
      literal.append(written);
      pos = close + 2;
      continue;
    }
    Template one;
    TemplateError error;
    if (!ParseTemplate(written, Quoting::kNone, &one, &error)) {
      out.errors.push_back({open, error.message});
      literal.append(written);
    } else {
      flush();
      for (Template::Piece& piece : one.pieces) {
        if (piece.is_ref) piece.ref.offset = open;
        out.tmpl.pieces.push_back(std::move(piece));
      }
    }
    pos = close + 2;
  }
  flush();
  return out;
}

ManifestValue KnownParamValues(const std::map<std::string, std::string>& params) {
  return [&params](const TemplateRef& ref) -> std::optional<std::string> {
    if (ref.kind != TemplateRef::Kind::kParam) return std::nullopt;
    auto it = params.find(ref.name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
}

std::string RenderManifestText(std::string_view text, const ManifestValue& value) {
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  const ManifestTemplate parsed = ParseManifestTemplate(text);
  std::string out;
  out.reserve(text.size());
  for (const Template::Piece& piece : parsed.tmpl.pieces) {
    if (!piece.is_ref) {
      out += piece.literal;
      continue;
    }
    if (std::optional<std::string> v = value(piece.ref)) {
      out += *v;
      continue;
    }
    const size_t end = text.find("}}", piece.ref.offset);
    out += end == std::string_view::npos
               ? PlaceholderText(piece.ref)
               : std::string(text.substr(piece.ref.offset, end + 2 - piece.ref.offset));
  }
  return out;
}

SourceLoc LocationOf(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  SourceLoc loc{1, 1};
  const size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  if (offset > 0 && line_start != std::string_view::npos) {
    loc.line += static_cast<int>(std::count(text.begin(), text.begin() + line_start + 1, '\n'));
    loc.col = static_cast<int>(offset - line_start);
  } else {
    loc.col = static_cast<int>(offset + 1);
  }
  return loc;
}

}  // namespace runbook

namespace runbook {
namespace {
namespace fs = std::filesystem;

bool IsManifestName(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

bool IsUrl(std::string_view path) {
  const size_t colon = path.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i)
    if (!std::isalpha(static_cast<unsigned char>(path[i]))) return false;
  return true;
}

Result<ManifestFiles> ListManifestFiles(const std::string& path, const std::string& base_dir) {
  using R = Result<ManifestFiles>;
  if (path.empty()) return R::Error("the apply path is empty");
  if (IsUrl(path)) {
    return R::Error("apply: " + path +
                    " is a URL; download the manifests into the runbook's folder and apply "
                    "that path, so that a plan binds exactly what runs");
  }
  fs::path source = path;
  if (source.is_relative() && !base_dir.empty()) source = fs::path(base_dir) / source;
  source = source.lexically_normal();
  ManifestFiles out;
  out.path = source.string();

  std::error_code ec;
  const fs::file_status st = fs::status(source, ec);
  if (ec || !fs::exists(st)) return R::Error("manifest path " + out.path + " does not exist");
  if (!fs::is_directory(st)) {
    out.files.push_back(out.path);
    return out;
  }
  out.folder = true;
  for (const char* name : {"kustomization.yaml", "kustomization.yml", "Kustomization"})
    out.kustomize = out.kustomize || fs::exists(source / name, ec);
  if (out.kustomize) {
    for (auto it = fs::recursive_directory_iterator(source, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) &&
          (IsManifestName(it->path()) || it->path().filename() == "Kustomization"))
        out.files.push_back(it->path().string());
    }
  } else {
    for (const auto& entry : fs::directory_iterator(source, ec)) {
      if (entry.is_regular_file(ec) && IsManifestName(entry.path()))
        out.files.push_back(entry.path().string());
    }
  }
  if (ec) return R::Error("cannot read folder " + out.path + ": " + ec.message());
  std::sort(out.files.begin(), out.files.end());
  if (out.files.empty())
    return R::Error("no manifests (*.yaml, *.yml, *.json) in " + out.path);
  return out;
}

}  // namespace runbook
