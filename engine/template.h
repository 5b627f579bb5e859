// Templates: `{{ params.NAME }}`, `{{ secrets.NAME }}`, `{{ steps.ID.stdout }}`,
// `{{ steps.ID.outputs.NAME }}`, `{{ run.id }}`, `{{ env.NAME }}`, and `{{ raw REF }}` to opt
// out of quoting. Inside shell and ssh commands (Quoting::kShell) every value is inserted
// shell-quoted, and a placeholder written inside quotes is an error, since quoting a quoted
// value would change its meaning.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace runbook {

enum class Quoting { kNone, kShell };

/// One `{{ ... }}` reference.
struct TemplateRef {
  enum class Kind { kParam, kSecret, kStepStdout, kStepStderr, kStepOutput, kRunId, kEnv };
  Kind kind = Kind::kParam;
  std::string name;    // param, secret, env or step id
  std::string output;  // kStepOutput: the output's name
  bool raw = false;
  size_t offset = 0;   // byte offset of "{{" in the template text
};

/// A template split into literal text and references.
struct Template {
  struct Piece {
    std::string literal;  // used when !is_ref
    TemplateRef ref;
    bool is_ref = false;
    bool heredoc_body = false;  // kShell: the placeholder is in a here-document's body
  };
  std::vector<Piece> pieces;
  bool has_refs() const;
};

/// A parse error: the byte offset in the template text and what is wrong.
struct TemplateError {
  size_t offset = 0;
  std::string message;
};

/// Parses `text`. With Quoting::kShell also rejects a placeholder inside '...' or "...".
/// On error returns false and fills `error`.
bool ParseTemplate(std::string_view text, Quoting quoting, Template* out, TemplateError* error);

/// The values a template can see while a run is going on.
struct TemplateScope {
  struct StepValues {
    std::string stdout_text;
    std::string stderr_text;
    std::map<std::string, std::string> outputs;
    /// Per-host outputs (ssh): host -> name -> value. Preferred when a host is given.
    std::map<std::string, std::map<std::string, std::string>> host_outputs;
  };
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> secrets;
  std::map<std::string, StepValues> steps;  // only steps that ran
  std::string run_id;
  std::function<std::string(const std::string&)> env;  // lookup of {{ env.X }}; "" if unset
};

/// Renders a parsed template. A step that has not run renders as "". With `mask_secrets`
/// every secret renders as `***` (for display).
std::string RenderTemplate(const Template& tmpl, const TemplateScope& scope, Quoting quoting,
                           std::string_view host, bool mask_secrets);

/// Parses and renders in one go; a template that does not parse renders as written.
std::string RenderTemplateText(std::string_view text, const TemplateScope& scope,
                               Quoting quoting, std::string_view host, bool mask_secrets);

/// Renders what is known before a run starts: each placeholder of a param in `params` becomes
/// its value (as Quoting::kNone renders it), every other placeholder stays exactly as written.
/// What a plan binds of a kubectl manifest (app/bound_files.h). A template that does not parse
/// is returned as written.
std::string RenderKnownParams(std::string_view text,
                              const std::map<std::string, std::string>& params);

/// A shell command whose values travel beside its text (SPEC section 5, "Values are data"):
/// each placeholder is written as a reference to a variable, `"${RUNBOOK_VALUE_1}"` (as one
/// word) or `${RUNBOOK_VALUE_1}` (in a here-document body), and the values are handed to the
/// shell in its environment (locally) or on its standard input (over SSH). No shell context
/// can re-parse a value, and no value is in any process's argument list. `{{ raw ... }}` is
/// inserted into the text as written.
struct ShellCommand {
  std::string text;
  std::map<std::string, std::string> values;  // variable name -> value
};

inline constexpr char kShellValuePrefix[] = "RUNBOOK_VALUE_";

ShellCommand RenderShellCommand(const Template& tmpl, const TemplateScope& scope,
                                std::string_view host);
/// Parses and renders; a template that does not parse is returned as written, with no values.
ShellCommand RenderShellCommandText(std::string_view text, const TemplateScope& scope,
                                    std::string_view host);

/// `export NAME='value'` lines that set `values` in a POSIX shell: the preamble of a script
/// sent on standard input.
std::string ShellAssignments(const std::map<std::string, std::string>& values);

/// POSIX shell quoting: 'abc' with each ' written as '\''. Empty becomes ''.
std::string ShellQuote(std::string_view value);

/// `text` without its trailing newlines: what `{{ steps.ID.stdout }}` and `.stderr` stand for,
/// both when a step has just run and when recover rebuilds them from the audit log.
std::string TrimTrailingNewlines(std::string text);

}  // namespace runbook
