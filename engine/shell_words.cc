#include "engine/shell_words.h"

#include <algorithm>
#include <optional>
#include <set>

#include "engine/template.h"

namespace runbook {
namespace {

// A placeholder in the command text is replaced by kMarkOpen, its index, kMarkClose: bytes a
// command does not hold, so that the reader below can tell a value from the text around it.
constexpr char kMarkOpen = '\x01';
constexpr char kMarkClose = '\x02';

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// What the next word of the command is.
enum class NextWord {
  kWord,          // a word that may name a file the command reads
  kOutputTarget,  // the target of > >> >| &> (written, not read)
  kIgnored,       // a here-string, a file descriptor after >& or <&
  kHeredocDelimiter,
};

class WordReader {
 public:
  WordReader(std::string text, std::vector<std::optional<std::string>> values)
      : s_(std::move(text)), values_(std::move(values)) {}

  std::vector<std::string> Read() {
    for (i_ = 0; i_ < s_.size(); ++i_) Step();
    Finish();
    return std::move(words_);
  }

 private:
  struct Heredoc {
    std::string delimiter;
    bool strip_tabs = false;
  };

  char At(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  void Step() {
    const char c = s_[i_];
    if (c == '\n') {
      Finish();
      SkipHeredocBodies();
      return;
    }
    if (IsBlank(c)) return Finish();
    if (c == '#' && !in_word_) {
      while (At(i_ + 1) != '\0' && At(i_ + 1) != '\n') ++i_;
      return;
    }
    if (c == '\\') {
      if (At(i_ + 1) == '\n') {  // a line continuation joins the lines
        ++i_;
      } else if (i_ + 1 < s_.size()) {
        Append(s_[++i_]);
        quoted_ = true;
      }
      return;
    }
    if (c == '\'') {
      size_t close = s_.find('\'', i_ + 1);
      if (close == std::string::npos) close = s_.size();
      Append(s_.substr(i_ + 1, close - i_ - 1));
      i_ = close;
      return;
    }
    if (c == '"') return DoubleQuoted();
    if (c == '$') {
      known_ = false;
      if (At(i_ + 1) == '(' && At(i_ + 2) == '(') return Arithmetic();
      return Append(c);
    }
    if (c == '`') return Finish();  // the words inside are words of a command too
    if (c == '*' || c == '?' || c == '[' || c == '{' || c == '}' || (c == '~' && !in_word_)) {
      known_ = false;
      return Append(c);
    }
    if (c == kMarkOpen) return Placeholder();
    if (c == '<' || c == '>') return Redirection(c);
    if (c == '&' && At(i_ + 1) == '>') {  // &> and &>>: stdout and stderr to a file
      Finish();
      i_ += At(i_ + 2) == '>' ? 2 : 1;
      next_ = NextWord::kOutputTarget;
      return;
    }
    if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
      Finish();
      next_ = NextWord::kWord;
      return;
    }
    Append(c);
  }

  // $(( ... )): part of an expanded word; its `<<` is a shift, not a here-document.
  void Arithmetic() {
    in_word_ = true;
    int depth = 0;
    for (; i_ < s_.size(); ++i_) {
      if (s_[i_] == '(') ++depth;
      if (s_[i_] == ')' && --depth == 0) return;
    }
  }

  void DoubleQuoted() {
    in_word_ = true;
    quoted_ = true;
    for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
      const char c = s_[i_];
      if (c == '\\' && std::string_view("$`\"\\\n").find(At(i_ + 1)) != std::string_view::npos) {
        if (s_[++i_] != '\n') word_ += s_[i_];
      } else if (c == '$' || c == '`') {
        known_ = false;
        word_ += c;
      } else if (c == kMarkOpen) {
        Placeholder();
      } else {
        word_ += c;
      }
    }
  }

  void Placeholder() {
    size_t close = s_.find(kMarkClose, i_);
    if (close == std::string::npos) close = s_.size();
    size_t index = values_.size();
    if (close > i_ + 1 && close - i_ - 1 <= 9) {
      const std::string digits = s_.substr(i_ + 1, close - i_ - 1);
      if (digits.find_first_not_of("0123456789") == std::string::npos) index = std::stoul(digits);
    }
    if (index < values_.size() && values_[index]) {
      Append(*values_[index]);
    } else {
      known_ = false;
      in_word_ = true;
    }
    i_ = close;
  }

  void Redirection(char c) {
    // `2>file`, `0<file`: the digits just before are a file descriptor, not a word.
    const bool fd = in_word_ && known_ && !quoted_ && !word_.empty() &&
                    word_.find_first_not_of("0123456789") == std::string::npos;
    if (fd) {
      Reset();
    } else {
      Finish();
    }
    if (c == '>') {
      if (At(i_ + 1) == '>' || At(i_ + 1) == '|') ++i_;
      next_ = NextWord::kOutputTarget;
      if (At(i_ + 1) == '&') {  // >&2 duplicates a descriptor; >&file also writes
        ++i_;
        next_ = NextWord::kIgnored;
      }
      return;
    }
    if (At(i_ + 1) == '<') {
      if (At(i_ + 2) == '<') {  // <<< here-string: the word is the input itself
        i_ += 2;
        next_ = NextWord::kIgnored;
        return;
      }
      ++i_;
      heredoc_strip_tabs_ = At(i_ + 1) == '-';
      if (heredoc_strip_tabs_) ++i_;
      next_ = NextWord::kHeredocDelimiter;
      return;
    }
    if (At(i_ + 1) == '&') {
      ++i_;
      next_ = NextWord::kIgnored;
      return;
    }
    if (At(i_ + 1) == '>') ++i_;  // <> opens for reading and writing: still read
    next_ = NextWord::kWord;
  }

  void Append(char c) {
    word_ += c;
    in_word_ = true;
  }
  void Append(const std::string& text) {
    word_ += text;
    in_word_ = true;
    quoted_ = true;  // (or a value: either way not a file descriptor)
  }

  void Reset() {
    word_.clear();
    in_word_ = false;
    known_ = true;
    quoted_ = false;
  }

  void Finish() {
    if (!in_word_) return;
    switch (next_) {
      case NextWord::kWord:
        if (known_ && !word_.empty() && seen_.insert(word_).second) words_.push_back(word_);
        break;
      case NextWord::kHeredocDelimiter:
        heredocs_.push_back({word_, heredoc_strip_tabs_});
        break;
      case NextWord::kOutputTarget:
      case NextWord::kIgnored:
        break;
    }
    next_ = NextWord::kWord;
    Reset();
  }

  // At a newline: the bodies of the here-documents announced on the line just read.
  void SkipHeredocBodies() {
    for (const Heredoc& h : heredocs_) {
      for (;;) {
        if (i_ >= s_.size()) return;
        size_t end = s_.find('\n', i_ + 1);
        if (end == std::string::npos) end = s_.size();
        std::string_view line(s_.data() + i_ + 1, end - i_ - 1);
        if (h.strip_tabs) line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
        i_ = end;
        if (line == h.delimiter) break;
      }
    }
    heredocs_.clear();
  }

  std::string s_;
  std::vector<std::optional<std::string>> values_;
  size_t i_ = 0;

  std::string word_;
  bool in_word_ = false;
  bool known_ = true;    // no expansion and no unknown placeholder in the word
  bool quoted_ = false;  // part of the word was quoted or a value
  NextWord next_ = NextWord::kWord;
  bool heredoc_strip_tabs_ = false;
  std::vector<Heredoc> heredocs_;

  std::vector<std::string> words_;
  std::set<std::string> seen_;
};

}  // namespace

std::vector<std::string> KnownCommandWords(std::string_view command,
                                           const std::map<std::string, std::string>& params) {
  std::string text;
  std::vector<std::optional<std::string>> values;
  Template tmpl;
  TemplateError error;
  if (!ParseTemplate(command, Quoting::kShell, &tmpl, &error)) {
    text = std::string(command);  // validated runbooks parse; read it as plain text otherwise
  } else {
    for (const Template::Piece& piece : tmpl.pieces) {
      if (!piece.is_ref) {
        text += piece.literal;
        continue;
      }
      const TemplateRef& ref = piece.ref;
      std::optional<std::string> value;
      if (ref.kind == TemplateRef::Kind::kParam && !ref.raw) {
        if (auto it = params.find(ref.name); it != params.end()) value = it->second;
      }
      text += kMarkOpen + std::to_string(values.size()) + kMarkClose;
      values.push_back(std::move(value));
    }
  }
  // Bytes that would read as markers only come from a command that did not parse.
  if (values.empty())
    for (char& c : text)
      if (c == kMarkOpen || c == kMarkClose) c = ' ';
  return WordReader(std::move(text), std::move(values)).Read();
}

}  // namespace runbook
