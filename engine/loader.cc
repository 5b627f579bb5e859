// The loader's outer layer: reading the file, refusing what is not a YAML text before
// yaml-cpp sees it, turning yaml-cpp's errors into diagnostics, and ordering the result.
#include "engine/loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/runbook_parser.h"
#include "engine/yaml_reader.h"
#include "engine/yaml_tree.h"

namespace runbook {

namespace {

constexpr size_t kMaxFileBytes = size_t{256} << 20;

/// The offset of the first byte that makes `text` binary (a NUL, or not UTF-8), or npos.
size_t FindBinary(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0) return i;
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c >= 0xF5) len = 0;
    if (len == 0 || i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
    }
    // Overlong three/four-byte forms, surrogates and code points past U+10FFFF.
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
        (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90)) {
      return i;
    }
    i += len;
  }
  return std::string::npos;
}

bool Blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// Aliases make the tree a graph, which whatever reads the whole runbook walks as a tree (the
// plan hash turns it into JSON, x- keys included): a node that holds an alias of itself
// (`x-a: &a [*a]`) would never end, and aliases of aliases (ten of the level below at each of
// ten levels) would multiply into billions of nodes. Both are refused here, before anything
// reads the runbook. A runbook may repeat a node many times; the bound is ten times the nodes
// it writes, plus a million.
bool CheckAliases(const YamlTree& docs, YamlReader& reader) {
  if (!docs.has_aliases()) return true;
  const uint64_t limit = 10 * uint64_t{docs.nodes()} + 1'000'000;
  const YamlTree::Expansion walk = docs.Expand(0, limit);
  if (walk.cycle) {
    reader.Error(walk.cycle_loc,
                 "this anchored node contains an alias of itself, which would make the runbook "
                 "infinite; an alias can only name a node that ends before it");
    return false;
  }
  if (walk.nodes > limit) {
    reader.Error({}, "aliases expand the runbook to more than " + std::to_string(limit) +
                         " nodes from the " + std::to_string(docs.nodes()) +
                         " it writes; a runbook can repeat a node, not multiply itself");
    return false;
  }
  return true;
}

void SortByPosition(Diagnostics* diags) {
  std::stable_sort(diags->begin(), diags->end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.col < b.col;
  });
}

}  // namespace

LoadResult LoadRunbookText(std::string text, const std::string& path, const std::string& dir,
                           bool read_files) {
  LoadResult result;
  YamlReader reader(path, &result.diagnostics);
  if (size_t bad = FindBinary(text); bad != std::string::npos) {
    reader.Error({}, "not a text file: binary data at byte " + std::to_string(bad) +
                         " (a runbook is UTF-8 YAML)");
    return result;
  }
  if (Blank(text)) {
    reader.Error({}, "empty file: a runbook needs at least 'runbook:' and 'steps:'");
    return result;
  }
  YamlTree docs;
  if (YamlTree::Error error; !YamlTree::Parse(text, &docs, &error)) {
    reader.Error(error.loc, "invalid YAML: " + error.message);
    return result;
  }
  if (docs.documents() == 0 || docs.document(0).IsNull()) {
    reader.Error({}, "empty runbook: the file holds only comments or an empty document");
    return result;
  }
  if (docs.documents() > 1) {
    SourceLoc loc = LocOf(docs.document(1));
    reader.Error(loc, "more than one YAML document ('---'); a runbook file holds exactly one");
  }
  if (!CheckAliases(docs, reader)) return result;

  auto runbook = std::make_unique<Runbook>();
  runbook->path = path;
  runbook->dir = dir;
  runbook->text = std::move(text);  // the tree holds copies of everything it needs
  try {
    ParseRunbook(docs.document(0), reader, runbook.get(), read_files);
  } catch (const std::exception& e) {
    // Nothing here should throw; report rather than let a bug escape as a crash.
    reader.Error({}, std::string("internal error while reading the runbook: ") + e.what());
  }
  SortByPosition(&result.diagnostics);
  if (reader.error_count() == 0) result.runbook = std::move(runbook);
  return result;
}

LoadResult LoadRunbookFile(const std::string& path) {
  LoadResult result;
  YamlReader reader(path, &result.diagnostics);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    reader.Error({}, std::string("cannot read runbook: ") + std::strerror(errno));
    return result;
  }
  if (S_ISDIR(st.st_mode)) {
    reader.Error({}, "is a directory, not a runbook file");
    return result;
  }
  if (!S_ISREG(st.st_mode)) {
    reader.Error({}, "not a regular file");
    return result;
  }
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    reader.Error({}, "file too large for a runbook (" + std::to_string(st.st_size) + " bytes)");
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reader.Error({}, std::string("cannot read runbook: ") + std::strerror(errno));
    return result;
  }
  // Read to the end, whatever the size was at stat(): the file is read once, into one string.
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    reader.Error({}, std::string("cannot read runbook: ") + std::strerror(errno));
    return result;
  }
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  std::string dir = ec ? std::string(".") : absolute.parent_path().lexically_normal().string();
  return LoadRunbookText(std::move(text), path, dir, /*read_files=*/true);
}

}  // namespace runbook
