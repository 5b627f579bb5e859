// Feeds: the input as a template (`{{ params.NAME }}`, `{{ raw steps.ID.stdout }}`...) to the
// template engine, parsed as a plain field and as a shell command (ParseTemplate with
// Quoting::kNone and kShell, which follows quotes, here-documents and $(( ))), rendered with
// values (RenderTemplate, masked and not, RenderShellCommand, RenderKnownParams) and read as a
// kubectl manifest (ParseManifestTemplate, RenderManifestText) and as a shell command whose
// words a plan binds (KnownCommandWords). After the first NUL byte, the input is the value
// every param, secret, step result and env variable has; without one, the value is fixed.
//
// Checks, beyond "does not crash, hang or leak" (none of these functions may throw): a text
// that parses as a shell command parses as a plain field; a parse error is located inside the
// text; a text that does not parse renders as written; literal pieces are the text between
// placeholders, each of which starts at its offset with "{{"; a template without placeholders
// renders as written; a masked render is the render with every secret `***`; the
// shell form of a command carries each value beside its text, never in it, under the names
// RUNBOOK_VALUE_N; and a value quoted by ShellQuote reads back as exactly one word, itself.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/manifest_template.h"
#include "engine/shell_words.h"
#include "engine/template.h"
#include "fuzz/fuzz_check.h"

namespace runbook {
namespace {

TemplateScope ScopeWith(const std::string& value) {
  TemplateScope scope;
  for (const char* name : {"version", "name", "who", "p", "x"}) scope.params[name] = value;
  for (const char* name : {"token", "key", "s"}) scope.secrets[name] = "secret:" + value;
  for (const char* id : {"build", "one", "a"}) {
    TemplateScope::StepValues& step = scope.steps[id];
    step.stdout_text = value;
    step.stderr_text = value;
    step.outputs["v"] = value;
    step.host_outputs["web1"]["v"] = value + "@web1";
  }
  scope.run_id = "run-fuzz";
  scope.env = [value](const std::string&) { return value; };
  return scope;
}

// The pieces are the text cut at its placeholders, in order.
void CheckParsed(std::string_view text, const Template& tmpl) {
  size_t pos = 0;
  for (const Template::Piece& piece : tmpl.pieces) {
    if (piece.is_ref) {
      FUZZ_CHECK(piece.ref.offset == pos && text.substr(pos, 2) == "{{");
      const size_t close = text.find("}}", pos + 2);
      FUZZ_CHECK(close != std::string_view::npos);
      pos = close + 2;
    } else {
      FUZZ_CHECK(!piece.literal.empty() && text.substr(pos, piece.literal.size()) == piece.literal);
      pos += piece.literal.size();
    }
  }
  FUZZ_CHECK(pos == text.size());
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string text = input.substr(0, nul);
  const std::string value = nul == std::string::npos ? "it's \"v\" $(x)\n" : input.substr(nul + 1);
  const TemplateScope scope = ScopeWith(value);

  Template plain;
  TemplateError plain_error;
  const bool plain_ok = ParseTemplate(text, Quoting::kNone, &plain, &plain_error);
  Template shell;
  TemplateError shell_error;
  const bool shell_ok = ParseTemplate(text, Quoting::kShell, &shell, &shell_error);
  FUZZ_CHECK(plain_ok || !shell_ok);

  if (!plain_ok) {
    FUZZ_CHECK(plain_error.offset < text.size() && !plain_error.message.empty());
    FUZZ_CHECK(RenderTemplateText(text, scope, Quoting::kNone, "", false) == text);
    FUZZ_CHECK(RenderKnownParams(text, scope.params) == text);
  } else {
    CheckParsed(text, plain);
    if (!plain.has_refs()) {
      FUZZ_CHECK(RenderTemplate(plain, scope, Quoting::kNone, "", false) == text);
    }
    TemplateScope masked = scope;  // every secret the text names is "***", known or not
    for (const Template::Piece& piece : plain.pieces) {
      if (piece.is_ref && piece.ref.kind == TemplateRef::Kind::kSecret) {
        masked.secrets[piece.ref.name] = "***";
      }
    }
    FUZZ_CHECK(RenderTemplate(plain, scope, Quoting::kNone, "web1", true) ==
               RenderTemplate(plain, masked, Quoting::kNone, "web1", false));
    (void)RenderTemplate(plain, scope, Quoting::kNone, "web1", false);
    (void)RenderKnownParams(text, scope.params);
  }
  if (!shell_ok) {
    FUZZ_CHECK(shell_error.offset < text.size() && !shell_error.message.empty());
    const ShellCommand as_written = RenderShellCommandText(text, scope, "");
    FUZZ_CHECK(as_written.text == text && as_written.values.empty());
  } else {
    CheckParsed(text, shell);
    (void)RenderTemplate(shell, scope, Quoting::kShell, "", false);
    const ShellCommand command = RenderShellCommand(shell, scope, "web1");
    size_t refs = 0;
    for (const Template::Piece& piece : shell.pieces) refs += piece.is_ref && !piece.ref.raw;
    FUZZ_CHECK(command.values.size() <= refs);
    for (const auto& [name, v] : command.values) {
      FUZZ_CHECK(name.rfind(kShellValuePrefix, 0) == 0);
      FUZZ_CHECK(command.text.find("${" + name + "}") != std::string::npos);
    }
    (void)ShellAssignments(command.values);
    (void)KnownCommandWords(text, scope.params);
  }

  ManifestTemplate manifest = ParseManifestTemplate(text);
  for (const TemplateError& e : manifest.errors) FUZZ_CHECK(e.offset < text.size());
  (void)RenderManifestText(text, KnownParamValues(scope.params));
  for (const TemplateError& e : manifest.errors) (void)LocationOf(text, e.offset);

  // ShellQuote's value is one word, read back as it was: what a plan binds of a command
  // holding a quoted file name. (Not checked for a value with a placeholder, or with NUL or
  // the bytes 1 and 2, which KnownCommandWords uses as its markers and reads as blanks.)
  if (!value.empty() && value.find_first_of(std::string("\0\x01\x02", 3)) == std::string::npos &&
      value.find("{{") == std::string::npos) {
    const std::vector<std::string> words = KnownCommandWords(ShellQuote(value), {});
    FUZZ_CHECK(words.size() == 1 && words[0] == value);
  }
  return 0;
}
