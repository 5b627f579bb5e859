// Parsing: a template is literal text with `{{ ... }}` placeholders. Under Quoting::kShell the
// literal text is also followed through the shell's quoting rules (quotes, backslashes,
// $( ), backticks, comments), because a placeholder's value is inserted as one single-quoted
// word: written inside '...' or "..." the quotes would pair up differently and the value
// would end up unquoted.
#include "engine/template.h"

#include <vector>

#include "engine/placeholder.h"

namespace runbook {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::vector<std::string_view> SplitDots(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

/// Parses the inside of a placeholder ("params.v", "steps.a.outputs.tag"); false if unknown.
bool ParseRef(std::string_view body, TemplateRef* ref) {
  std::vector<std::string_view> p = SplitDots(body);
  for (std::string_view part : p) {
    if (!IsName(part)) return false;
  }
  if (p.size() == 2 && p[0] == "params") {
    ref->kind = TemplateRef::Kind::kParam;
  } else if (p.size() == 2 && p[0] == "secrets") {
    ref->kind = TemplateRef::Kind::kSecret;
  } else if (p.size() == 2 && p[0] == "env") {
    ref->kind = TemplateRef::Kind::kEnv;
  } else if (p.size() == 2 && p[0] == "run" && p[1] == "id") {
    ref->kind = TemplateRef::Kind::kRunId;
    return true;
  } else if (p.size() == 3 && p[0] == "steps" && p[2] == "stdout") {
    ref->kind = TemplateRef::Kind::kStepStdout;
  } else if (p.size() == 3 && p[0] == "steps" && p[2] == "stderr") {
    ref->kind = TemplateRef::Kind::kStepStderr;
  } else if (p.size() == 4 && p[0] == "steps" && p[2] == "outputs") {
    ref->kind = TemplateRef::Kind::kStepOutput;
    ref->output = std::string(p[3]);
  } else {
    return false;
  }
  ref->name = std::string(p[1]);
  return true;
}

/// Follows POSIX shell quoting through literal text, one byte at a time.
class ShellQuoteTracker {
 public:
  void Feed(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) Step(text, i);
  }
  /// Whether the next character is inside '...', "..." or $'...'.
  bool quoted() const {
    Ctx top = stack_.back().ctx;
    return top == Ctx::kSingle || top == Ctx::kDouble || top == Ctx::kDollarSingle;
  }
  /// Whether the previous character was an unconsumed backslash.
  bool escaped() const { return escape_next_; }
  /// Whether the next character is inside a # comment.
  bool in_comment() const { return comment_; }
  /// Whether the next character is inside an arithmetic expansion $(( ... )), where bash
  /// evaluates a value as an expression (`a[$(cmd)]` runs cmd) however it is quoted.
  bool in_arithmetic() const {
    for (const Frame& f : stack_)
      if (f.arithmetic) return true;
    return false;
  }
  /// Whether the next character is inside the body of a here-document; `quoted` tells whether
  /// its delimiter was quoted (<<'EOF'), which turns off expansion in the body.
  bool in_heredoc() const { return !heredocs_.empty() && in_body_; }
  bool heredoc_quoted() const { return in_heredoc() && heredocs_.front().quoted; }
  /// A placeholder took the place of some text on the current line.
  void Placeholder() {
    if (in_heredoc()) {
      line_has_placeholder_ = true;
    } else {
      word_start_ = false;
    }
  }

 private:
  enum class Ctx { kTop, kSingle, kDouble, kDollarSingle, kCmdSubst, kBacktick };
  struct Frame {
    Ctx ctx;
    int parens;
    bool arithmetic = false;  // opened by $((
  };

  void Push(Ctx ctx) { stack_.push_back({ctx, 0}); }
  void Pop() {
    if (stack_.size() > 1) stack_.pop_back();
  }

  /// A here-document announced by `<<WORD` or `<<-WORD`: its body starts on the next line.
  struct Heredoc {
    std::string delimiter;
    bool strip_tabs = false;
    bool quoted = false;
  };

  /// Inside a here-document body quotes mean nothing; only the delimiter line ends it.
  void StepBody(char c) {
    if (c != '\n') {
      line_ += c;
      return;
    }
    std::string_view line = line_;
    if (heredocs_.front().strip_tabs) {
      while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
    }
    if (!line_has_placeholder_ && line == heredocs_.front().delimiter) {
      heredocs_.erase(heredocs_.begin());
      in_body_ = !heredocs_.empty();
    }
    line_.clear();
    line_has_placeholder_ = false;
  }

  /// At `<<` in unquoted text (not `<<<`): reads the delimiter word that follows and moves `i`
  /// to its last character.
  void ReadHeredocOperator(std::string_view text, size_t& i) {
    Heredoc doc;
    size_t j = i + 2;
    if (j < text.size() && text[j] == '-') {
      doc.strip_tabs = true;
      ++j;
    }
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    char quote = 0;
    for (; j < text.size(); ++j) {
      char c = text[j];
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          doc.delimiter += c;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        doc.quoted = true;
      } else if (c == '\\' && j + 1 < text.size()) {
        doc.quoted = true;
        doc.delimiter += text[++j];
      } else if (IsSpace(c) || c == ';' || c == '&' || c == '|' || c == '<' || c == '>' ||
                 c == '(' || c == ')') {
        break;
      } else {
        doc.delimiter += c;
      }
    }
    i = j - 1;
    word_start_ = false;
    if (!doc.delimiter.empty()) heredocs_.push_back(std::move(doc));
  }

  void Step(std::string_view text, size_t& i) {
    char c = text[i];
    if (in_body_) {
      StepBody(c);
      return;
    }
    if (escape_next_) {
      escape_next_ = false;
      word_start_ = false;
      return;
    }
    if (comment_) {
      if (c == '\n') {
        comment_ = false;
        word_start_ = true;
        in_body_ = !heredocs_.empty();
      }
      return;
    }
    bool at_word_start = word_start_;
    word_start_ = false;
    Frame& f = stack_.back();
    switch (f.ctx) {
      case Ctx::kSingle:
        if (c == '\'') Pop();
        return;
      case Ctx::kDollarSingle:
        if (c == '\\') escape_next_ = true;
        if (c == '\'') Pop();
        return;
      case Ctx::kDouble:
        if (c == '\\') {
          escape_next_ = true;
        } else if (c == '"') {
          Pop();
        } else if (c == '`') {
          Push(Ctx::kBacktick);
          word_start_ = true;
        } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '(') {
          ++i;
          Push(Ctx::kCmdSubst);
          word_start_ = true;
        }
        return;
      case Ctx::kTop:
      case Ctx::kCmdSubst:
      case Ctx::kBacktick:
        break;
    }
    // Unquoted text.
    if (IsSpace(c) || c == ';' || c == '&' || c == '|' || c == '(') word_start_ = true;
    if (c == '\n' && !heredocs_.empty()) {
      in_body_ = true;
    } else if (c == '<' && i + 1 < text.size() && text[i + 1] == '<' &&
               (i + 2 >= text.size() || text[i + 2] != '<') && f.parens == 0) {
      ReadHeredocOperator(text, i);
    } else if (c == '\\') {
      escape_next_ = true;
    } else if (c == '#' && at_word_start) {
      comment_ = true;
    } else if (c == '\'') {
      Push(Ctx::kSingle);
    } else if (c == '"') {
      Push(Ctx::kDouble);
    } else if (c == '`') {
      if (f.ctx == Ctx::kBacktick) {
        Pop();
      } else {
        Push(Ctx::kBacktick);
        word_start_ = true;
      }
    } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '(') {
      ++i;
      Push(Ctx::kCmdSubst);
      stack_.back().arithmetic = i + 1 < text.size() && text[i + 1] == '(';
      word_start_ = true;
    } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '\'') {
      ++i;
      Push(Ctx::kDollarSingle);
    } else if (c == '(' && f.ctx == Ctx::kCmdSubst) {
      ++f.parens;
    } else if (c == ')' && f.ctx == Ctx::kCmdSubst) {
      if (f.parens == 0) {
        Pop();
      } else {
        --f.parens;
      }
    }
  }

  std::vector<Frame> stack_{{Ctx::kTop, 0}};
  std::vector<Heredoc> heredocs_;  // announced, in order; the first is being read when in_body_
  bool in_body_ = false;
  std::string line_;               // the body line read so far
  bool line_has_placeholder_ = false;
  bool escape_next_ = false;
  bool comment_ = false;
  bool word_start_ = true;
};

const std::string* FindValue(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

std::string Lookup(const TemplateRef& ref, const TemplateScope& scope, std::string_view host) {
  const std::string* found = nullptr;
  switch (ref.kind) {
    case TemplateRef::Kind::kParam:
      found = FindValue(scope.params, ref.name);
      break;
    case TemplateRef::Kind::kSecret:
      found = FindValue(scope.secrets, ref.name);
      break;
    case TemplateRef::Kind::kRunId:
      return scope.run_id;
    case TemplateRef::Kind::kEnv:
      return scope.env ? scope.env(ref.name) : std::string();
    case TemplateRef::Kind::kStepStdout:
    case TemplateRef::Kind::kStepStderr:
    case TemplateRef::Kind::kStepOutput: {
      auto step = scope.steps.find(ref.name);
      if (step == scope.steps.end()) return std::string();
      const TemplateScope::StepValues& values = step->second;
      if (ref.kind == TemplateRef::Kind::kStepStdout) return values.stdout_text;
      if (ref.kind == TemplateRef::Kind::kStepStderr) return values.stderr_text;
      if (!host.empty()) {
        auto per_host = values.host_outputs.find(std::string(host));
        if (per_host != values.host_outputs.end()) found = FindValue(per_host->second, ref.output);
      }
      if (found == nullptr) found = FindValue(values.outputs, ref.output);
      break;
    }
  }
  return found ? *found : std::string();
}

}  // namespace

std::string PlaceholderText(const TemplateRef& ref) {
  std::string out = ref.raw ? "{{ raw " : "{{ ";
  switch (ref.kind) {
    case TemplateRef::Kind::kParam:
      out += "params." + ref.name;
      break;
    case TemplateRef::Kind::kSecret:
      out += "secrets." + ref.name;
      break;
    case TemplateRef::Kind::kEnv:
      out += "env." + ref.name;
      break;
    case TemplateRef::Kind::kRunId:
      out += "run.id";
      break;
    case TemplateRef::Kind::kStepStdout:
      out += "steps." + ref.name + ".stdout";
      break;
    case TemplateRef::Kind::kStepStderr:
      out += "steps." + ref.name + ".stderr";
      break;
    case TemplateRef::Kind::kStepOutput:
      out += "steps." + ref.name + ".outputs." + ref.output;
      break;
  }
  return out + " }}";
}

bool Template::has_refs() const {
  for (const Piece& piece : pieces) {
    if (piece.is_ref) return true;
  }
  return false;
}

bool ParseTemplate(std::string_view text, Quoting quoting, Template* out, TemplateError* error) {
  out->pieces.clear();
  ShellQuoteTracker shell;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t open = text.find("{{", pos);
    std::string_view literal = text.substr(pos, open == std::string_view::npos ? open : open - pos);
    if (!literal.empty()) {
      Template::Piece piece;
      piece.literal = std::string(literal);
      out->pieces.push_back(std::move(piece));
      if (quoting == Quoting::kShell) shell.Feed(literal);
    }
    if (open == std::string_view::npos) break;

    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      *error = {open, "unclosed '{{' (a placeholder ends with '}}')"};
      return false;
    }
    std::string_view written = text.substr(open, close + 2 - open);
    std::string_view body = Trim(text.substr(open + 2, close - open - 2));
    TemplateRef ref;
    ref.offset = open;
    if (body.size() > 4 && body.substr(0, 3) == "raw" && IsSpace(body[3])) {
      ref.raw = true;
      body = Trim(body.substr(4));
    }
    if (body.empty()) {
      *error = {open, "empty placeholder " + std::string(written)};
      return false;
    }
    if (!ParseRef(body, &ref)) {
      *error = {open, "unknown placeholder " + std::string(written) +
                          ": use params.NAME, secrets.NAME, steps.ID.stdout, steps.ID.stderr, "
                          "steps.ID.outputs.NAME, run.id or env.NAME"};
      return false;
    }
    const bool heredoc_body = quoting == Quoting::kShell && shell.in_heredoc();
    if (heredoc_body && !ref.raw) {
      TemplateRef as_raw = ref;
      as_raw.raw = true;
      if (shell.heredoc_quoted()) {
        *error = {open, "placeholder " + PlaceholderText(ref) +
                            " is in the body of a here-document whose delimiter is quoted "
                            "(<<'EOF'), where nothing is expanded; write the delimiter unquoted "
                            "(<<EOF): the placeholder then stands for exactly its value"};
        return false;
      }
      size_t backslashes = 0;
      while (backslashes < literal.size() && literal[literal.size() - 1 - backslashes] == '\\')
        ++backslashes;
      if (backslashes % 2 == 1) {
        *error = {open, "placeholder " + PlaceholderText(ref) +
                            " follows a backslash, which would stop it from being expanded in "
                            "the here-document; remove the backslash, or use " +
                            PlaceholderText(as_raw)};
        return false;
      }
    } else if (quoting == Quoting::kShell && !ref.raw && shell.in_arithmetic()) {
      *error = {open, "placeholder " + PlaceholderText(ref) +
                          " is inside $(( ... )), where bash evaluates a value as an expression "
                          "(a value such as a[$(cmd)] runs cmd, quoted or not); give the param a "
                          "pattern such as \"[0-9]+\" and use {{ raw ... }} there, or compute "
                          "outside the shell"};
      return false;
    } else if (quoting == Quoting::kShell && !ref.raw && !shell.in_comment()) {
      TemplateRef as_raw = ref;
      as_raw.raw = true;
      if (shell.quoted()) {
        *error = {open, "placeholder " + PlaceholderText(ref) +
                            " is inside quotes; values are inserted shell-quoted already, so "
                            "write it unquoted, or use " +
                            PlaceholderText(as_raw)};
        return false;
      }
      if (shell.escaped()) {
        *error = {open, "placeholder " + PlaceholderText(ref) +
                            " follows a backslash, which would escape the quote of its "
                            "shell-quoted value; remove the backslash, or use " +
                            PlaceholderText(as_raw)};
        return false;
      }
    }
    Template::Piece piece;
    piece.is_ref = true;
    piece.ref = std::move(ref);
    piece.heredoc_body = heredoc_body;
    out->pieces.push_back(std::move(piece));
    if (quoting == Quoting::kShell) shell.Placeholder();
    pos = close + 2;
  }
  return true;
}

std::string RenderTemplate(const Template& tmpl, const TemplateScope& scope, Quoting quoting,
                           std::string_view host, bool mask_secrets) {
  std::string out;
  for (const Template::Piece& piece : tmpl.pieces) {
    if (!piece.is_ref) {
      out += piece.literal;
      continue;
    }
    const TemplateRef& ref = piece.ref;
    if (mask_secrets && ref.kind == TemplateRef::Kind::kSecret) {
      out += "***";
      continue;
    }
    std::string value = Lookup(ref, scope, host);
    out += quoting == Quoting::kShell && !ref.raw ? ShellQuote(value) : value;
  }
  return out;
}

ShellCommand RenderShellCommand(const Template& tmpl, const TemplateScope& scope,
                                std::string_view host) {
  ShellCommand command;
  for (const Template::Piece& piece : tmpl.pieces) {
    if (!piece.is_ref) {
      command.text += piece.literal;
      continue;
    }
    std::string value = Lookup(piece.ref, scope, host);
    if (piece.ref.raw) {
      command.text += value;
      continue;
    }
    std::string name = kShellValuePrefix + std::to_string(command.values.size() + 1);
    // One word in a command; in a here-document body the expansion is the exact text already
    // (and quotes would be printed).
    command.text += piece.heredoc_body ? "${" + name + "}" : "\"${" + name + "}\"";
    command.values.emplace(std::move(name), std::move(value));
  }
  return command;
}

ShellCommand RenderShellCommandText(std::string_view text, const TemplateScope& scope,
                                    std::string_view host) {
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(text, Quoting::kShell, &tmpl, &error)) return {std::string(text), {}};
  return RenderShellCommand(tmpl, scope, host);
}

std::string ShellAssignments(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const auto& [name, value] : values) out += "export " + name + "=" + ShellQuote(value) + "\n";
  return out;
}

std::string RenderTemplateText(std::string_view text, const TemplateScope& scope, Quoting quoting,
                               std::string_view host, bool mask_secrets) {
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(text, quoting, &tmpl, &error)) return std::string(text);
  return RenderTemplate(tmpl, scope, quoting, host, mask_secrets);
}

std::string RenderKnownParams(std::string_view text,
                              const std::map<std::string, std::string>& params) {
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(text, Quoting::kNone, &tmpl, &error)) return std::string(text);
  std::string out;
  for (const Template::Piece& piece : tmpl.pieces) {
    if (!piece.is_ref) {
      out += piece.literal;
      continue;
    }
    const TemplateRef& ref = piece.ref;
    auto value = ref.kind == TemplateRef::Kind::kParam ? params.find(ref.name) : params.end();
    if (value != params.end()) {
      out += value->second;
      continue;
    }
    const size_t end = text.find("}}", ref.offset);
    out += end == std::string_view::npos
               ? PlaceholderText(ref)
               : std::string(text.substr(ref.offset, end + 2 - ref.offset));
  }
  return out;
}

std::string TrimTrailingNewlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string ShellQuote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

}  // namespace runbook
