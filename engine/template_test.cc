// Templates: parsing every reference kind, the shell-quoting rules, and rendering values so
// that no value can change the meaning of a shell command.
#include "engine/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>

namespace runbook {
namespace {

using ::testing::HasSubstr;

Template MustParse(std::string_view text, Quoting quoting = Quoting::kShell) {
  Template t;
  TemplateError error;
  EXPECT_TRUE(ParseTemplate(text, quoting, &t, &error)) << text << ": " << error.message;
  return t;
}

/// The parse error for `text`, or "" if it parses.
std::string ParseError(std::string_view text, Quoting quoting = Quoting::kShell) {
  Template t;
  TemplateError error;
  if (ParseTemplate(text, quoting, &t, &error)) return "";
  return error.message;
}

std::string Render(std::string_view text, const TemplateScope& scope,
                   Quoting quoting = Quoting::kShell, std::string_view host = {},
                   bool mask = false) {
  return RenderTemplate(MustParse(text, quoting), scope, quoting, host, mask);
}

/// What /bin/sh prints for `command` (its stdout).
std::string Shell(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    out += "<exit " + std::to_string(status) + ">";
  return out;
}

TEST(ParseTemplate, EveryReferenceKind) {
  Template t = MustParse(
      "a {{ params.version }} {{secrets.tok}} {{  steps.build.stdout  }} {{ steps.b-2.stderr }} "
      "{{ steps.build.outputs.tag_1 }} {{ run.id }} {{ env.HOME }} {{ raw params.x }}!",
      Quoting::kNone);
  ASSERT_TRUE(t.has_refs());
  std::vector<TemplateRef> refs;
  for (const Template::Piece& p : t.pieces) {
    if (p.is_ref) refs.push_back(p.ref);
  }
  ASSERT_EQ(refs.size(), 8u);
  EXPECT_EQ(refs[0].kind, TemplateRef::Kind::kParam);
  EXPECT_EQ(refs[0].name, "version");
  EXPECT_EQ(refs[0].offset, 2u);
  EXPECT_FALSE(refs[0].raw);
  EXPECT_EQ(refs[1].kind, TemplateRef::Kind::kSecret);
  EXPECT_EQ(refs[1].name, "tok");
  EXPECT_EQ(refs[2].kind, TemplateRef::Kind::kStepStdout);
  EXPECT_EQ(refs[2].name, "build");
  EXPECT_EQ(refs[3].kind, TemplateRef::Kind::kStepStderr);
  EXPECT_EQ(refs[3].name, "b-2");
  EXPECT_EQ(refs[4].kind, TemplateRef::Kind::kStepOutput);
  EXPECT_EQ(refs[4].name, "build");
  EXPECT_EQ(refs[4].output, "tag_1");
  EXPECT_EQ(refs[5].kind, TemplateRef::Kind::kRunId);
  EXPECT_EQ(refs[6].kind, TemplateRef::Kind::kEnv);
  EXPECT_EQ(refs[6].name, "HOME");
  EXPECT_EQ(refs[7].kind, TemplateRef::Kind::kParam);
  EXPECT_TRUE(refs[7].raw);
  EXPECT_EQ(t.pieces.front().literal, "a ");
  EXPECT_EQ(t.pieces.back().literal, "!");

  EXPECT_FALSE(MustParse("no placeholders } { }} here").has_refs());
  EXPECT_TRUE(MustParse("").pieces.empty());
}

TEST(ParseTemplate, Errors) {
  EXPECT_EQ(ParseError("echo {{ params.x"), "unclosed '{{' (a placeholder ends with '}}')");
  EXPECT_EQ(ParseError("{{ }}"), "empty placeholder {{ }}");
  EXPECT_THAT(ParseError("{{ param.x }}"),
              HasSubstr("unknown placeholder {{ param.x }}: use params.NAME"));
  for (const char* bad :
       {"{{ params }}", "{{ params.a.b }}", "{{ steps.a }}", "{{ steps.a.stdin }}",
        "{{ steps.a.outputs }}", "{{ run.other }}", "{{ params.a b }}", "{{ params.$x }}",
        "{{ raw }}", "{{ rawparams.x }}", "{{ .State }}"}) {
    EXPECT_THAT(ParseError(bad, Quoting::kNone), HasSubstr("placeholder")) << bad;
  }
  TemplateError error;
  Template t;
  ASSERT_FALSE(ParseTemplate("ok {{ params.a }} then {{ nope }}", Quoting::kNone, &t, &error));
  EXPECT_EQ(error.offset, 23u);
}

TEST(ParseTemplate, QuotedPlaceholdersAreRefusedInShellText) {
  EXPECT_EQ(ParseError("echo '{{ params.v }}'"),
            "placeholder {{ params.v }} is inside quotes; values are inserted shell-quoted "
            "already, so write it unquoted, or use {{ raw params.v }}");
  const char* quoted[] = {
      "echo \"{{ params.v }}\"",
      "echo \"a b {{ params.v }} c\"",
      "echo '\"' '{{ params.v }}'",    // a double quote inside single quotes
      "echo \"it's {{ params.v }}\"",  // a single quote inside double quotes
      "echo \"\\\"{{ params.v }}\"",   // an escaped quote stays inside
      "echo $'x{{ params.v }}'",
      "echo \"$(echo '{{ params.v }}')\"",  // quotes inside a command substitution
      "echo `echo \"{{ params.v }}\"`",
      "echo 'a'\"{{ params.v }}\"",
      "printf '%s\\n' \"{{ steps.a.stdout }}\"",
  };
  for (const char* text : quoted) {
    EXPECT_THAT(ParseError(text), HasSubstr("is inside quotes")) << text;
  }
  EXPECT_THAT(ParseError("echo \\{{ params.v }}"), HasSubstr("follows a backslash"));
}

TEST(ParseTemplate, UnquotedPlaceholdersAreAcceptedInShellText) {
  const char* fine[] = {
      "echo {{ params.v }}",
      "echo '' {{ params.v }} \"\"",
      "echo 'a' {{ params.v }} 'b'",
      "echo --flag={{ params.v }}",
      "echo \\' {{ params.v }}",       // an escaped quote opens nothing
      "echo \"\\\\\" {{ params.v }}",  // "\\" closes
      "echo 'a\\' {{ params.v }}",     // no escapes inside single quotes
      "echo $(echo {{ params.v }})",
      "echo \"$(echo {{ params.v }})\"",  // unquoted again inside $( ) within quotes
      "echo \"$(echo \"x\") \" {{ params.v }}",
      "echo $( (echo a) ) {{ params.v }}",
      "echo `echo {{ params.v }}`",
      "echo $'it\\'s' {{ params.v }}",
      "# don't\necho {{ params.v }}",  // quotes in a comment do not count
      "echo a#b {{ params.v }}",       // not a comment
      "echo '{{ raw params.v }}' \"{{ raw secrets.s }}\"",
      "test $(df --output=avail / | tail -1) -gt {{ params.v }}",
  };
  for (const char* text : fine) {
    EXPECT_EQ(ParseError(text), "") << text;
  }
  // Without shell quoting, quotes are just text.
  EXPECT_EQ(ParseError("'{{ params.v }}' \"{{ params.v }}\"", Quoting::kNone), "");
}

TEST(RenderTemplate, HostileValuesStayOneWord) {
  const std::string evil = "a; touch X $(y) `z` ' \" \\ * \n$HOME %s";
  TemplateScope scope;
  scope.params["x"] = evil;
  scope.params["empty"] = "";
  std::string command = Render("printf %s {{ params.x }}", scope);
  EXPECT_EQ(Shell(command), evil);
  EXPECT_EQ(Shell(Render("printf '[%s]' {{ params.empty }} {{params.x}}x", scope)),
            "[][" + evil + "x]");
  // Each value arrives as exactly one argument.
  EXPECT_EQ(Shell(Render("set -- {{ params.x }} {{ params.empty }}; echo $#", scope)), "2\n");
}

TEST(RenderTemplate, ShellQuote) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  for (std::string v : {"", "plain", "two words", "'", "''", "\\", "$(id)", "a\nb", "--"}) {
    EXPECT_EQ(Shell("printf %s " + ShellQuote(v)), v);
  }
}

TEST(RenderTemplate, ScopeValues) {
  TemplateScope scope;
  scope.params["v"] = "1.2";
  scope.secrets["tok"] = "s3cr3t";
  scope.run_id = "run-7";
  scope.env = [](const std::string& name) { return name == "HOME" ? "/home/x" : ""; };
  TemplateScope::StepValues build;
  build.stdout_text = "out";
  build.stderr_text = "err";
  build.outputs["tag"] = "t-all";
  build.host_outputs["web1"]["tag"] = "t-web1";
  scope.steps["build"] = build;

  EXPECT_EQ(
      Render("{{ params.v }} {{ run.id }} {{ env.HOME }} {{ env.NOPE }}", scope, Quoting::kNone),
      "1.2 run-7 /home/x ");
  EXPECT_EQ(Render("{{ params.v }} {{ raw params.v }}", scope), "'1.2' 1.2");
  EXPECT_EQ(Render("{{ steps.build.stdout }}/{{ steps.build.stderr }}", scope, Quoting::kNone),
            "out/err");
  // Secrets: real for running, masked (and unquoted) for display.
  EXPECT_EQ(Render("t={{ secrets.tok }}", scope), "t='s3cr3t'");
  EXPECT_EQ(Render("t={{ secrets.tok }} {{ raw secrets.tok }}", scope, Quoting::kShell, "", true),
            "t=*** ***");
  // Per-host outputs first, then the step's.
  EXPECT_EQ(Render("{{ steps.build.outputs.tag }}", scope, Quoting::kNone, "web1"), "t-web1");
  EXPECT_EQ(Render("{{ steps.build.outputs.tag }}", scope, Quoting::kNone, "web2"), "t-all");
  EXPECT_EQ(Render("{{ steps.build.outputs.tag }}", scope, Quoting::kNone), "t-all");
  // A step that has not run, or a value not set, renders empty.
  EXPECT_EQ(Render("[{{ steps.later.stdout }}]", scope), "['']");
  EXPECT_EQ(Render("[{{ steps.build.outputs.none }}]", scope, Quoting::kNone), "[]");
  TemplateScope no_env;
  EXPECT_EQ(Render("[{{ env.HOME }}]", no_env, Quoting::kNone), "[]");
}

TEST(RenderTemplate, TextThatDoesNotParseRendersAsWritten) {
  TemplateScope scope;
  scope.params["v"] = "1";
  EXPECT_EQ(RenderTemplateText("echo {{ params.v }}", scope, Quoting::kShell, "", false),
            "echo '1'");
  EXPECT_EQ(RenderTemplateText("echo '{{ params.v }}'", scope, Quoting::kShell, "", false),
            "echo '{{ params.v }}'");
  EXPECT_EQ(RenderTemplateText("{{ oops", scope, Quoting::kNone, "", false), "{{ oops");
}


/// What /bin/sh prints for a ShellCommand whose values are set the way ssh sends them.
std::string RunWithValues(const ShellCommand& command) {
  std::string script = ShellAssignments(command.values) + command.text;
  return Shell("sh -c " + ShellQuote(script));
}

ShellCommand RenderShell(std::string_view text, const TemplateScope& scope) {
  return RenderShellCommand(MustParse(text), scope, {});
}

const char kHostile[] = "1.2.3 $(touch pwned1) `touch pwned2` ${HOME} \\ 'q' \"dq\" %s";

TEST(ShellCommand, ValuesNeverReachTheCommandText) {
  TemplateScope scope;
  scope.params["v"] = kHostile;
  scope.secrets["tok"] = "s3cr3t-value";
  ShellCommand c = RenderShell("printf '[%s]' {{ params.v }} {{ secrets.tok }} {{ raw params.v }}x", scope);
  EXPECT_EQ(c.text, "printf '[%s]' \"${RUNBOOK_VALUE_1}\" \"${RUNBOOK_VALUE_2}\" " +
                        std::string(kHostile) + "x");
  EXPECT_EQ(c.values.size(), 2u);
  EXPECT_EQ(c.values.at("RUNBOOK_VALUE_1"), kHostile);
  EXPECT_EQ(c.values.at("RUNBOOK_VALUE_2"), "s3cr3t-value");
  // Each value is exactly one word.
  ShellCommand words = RenderShell("set -- {{ params.v }} {{ params.e }}; echo $#; printf %s \"$1\"", scope);
  EXPECT_EQ(RunWithValues(words), "2\n" + std::string(kHostile));
}

TEST(ShellCommand, AHeredocBodyHoldsExactlyTheValue) {
  TemplateScope scope;
  scope.params["v"] = kHostile;
  scope.params["multi"] = "line one\nEOF\nline three";
  ShellCommand c = RenderShell("cat <<EOF\n{{ params.v }}\nx{{ params.multi }}y\nEOF\necho after {{ params.v }}", scope);
  EXPECT_EQ(c.text,
            "cat <<EOF\n${RUNBOOK_VALUE_1}\nx${RUNBOOK_VALUE_2}y\nEOF\necho after \"${RUNBOOK_VALUE_3}\"");
  EXPECT_EQ(RunWithValues(c), std::string(kHostile) + "\nxline one\nEOF\nline threey\nafter " +
                                  kHostile + "\n");
  // <<- strips tabs from the delimiter line; two here-documents on one line are read in turn.
  ShellCommand two = RenderShell("cat <<-A; cat << 'B'\n\t{{ params.v }}\n\tA\nplain $HOME\nB\necho {{ params.v }}", scope);
  EXPECT_EQ(RunWithValues(two), std::string(kHostile) + "\nplain $HOME\n" + kHostile + "\n")
      << two.text;
  // `<<` in arithmetic is a shift, not a here-document.
  ShellCommand shift = RenderShell("echo $((1<<3)) {{ params.v }}", scope);
  EXPECT_EQ(RunWithValues(shift), "8 " + std::string(kHostile) + "\n");
  // `<<<` is a here-string (bash), a word like any other.
  EXPECT_EQ(RenderShell("cat <<< {{ params.v }}", scope).text, "cat <<< \"${RUNBOOK_VALUE_1}\"");
}

TEST(ShellCommand, AValueCannotEndAComment) {
  TemplateScope scope;
  scope.params["note"] = "quiet\necho pwned #";
  ShellCommand c = RenderShell("echo a # note: {{ params.note }}\necho b", scope);
  EXPECT_EQ(RunWithValues(c), "a\nb\n");
}

TEST(ShellCommand, PlaceholdersInArithmeticAreRefused) {
  // bash evaluates a value in $(( )) as an expression: a[$(touch x)] would run touch.
  EXPECT_THAT(ParseError("echo $(( {{ params.n }} + 1 ))"), HasSubstr("inside $(( ... ))"));
  EXPECT_THAT(ParseError("echo $(( $(echo {{ params.n }}) + 1 ))"), HasSubstr("inside $(("));
  EXPECT_EQ(ParseError("echo $(( {{ raw params.n }} + 1 ))"), "");
  EXPECT_EQ(ParseError("echo $(echo {{ params.n }}) $((1+2)) {{ params.n }}"), "");
}

TEST(ShellCommand, PlaceholdersAHeredocCannotExpandAreRefused) {
  EXPECT_THAT(ParseError("cat <<'EOF'\n{{ params.v }}\nEOF"), HasSubstr("delimiter is quoted"));
  EXPECT_THAT(ParseError("cat <<\"EOF\"\n{{ params.v }}\nEOF"), HasSubstr("delimiter is quoted"));
  EXPECT_THAT(ParseError("cat <<\\EOF\n{{ params.v }}\nEOF"), HasSubstr("delimiter is quoted"));
  EXPECT_THAT(ParseError("cat <<EOF\n\\{{ params.v }}\nEOF"), HasSubstr("follows a backslash"));
  // Quotes mean nothing inside a body, and the body ends at its delimiter.
  EXPECT_EQ(ParseError("cat <<EOF\nit's {{ params.v }} \"x\nEOF\necho {{ params.v }}"), "");
  EXPECT_THAT(ParseError("cat <<EOF\nx\nEOF\necho '{{ params.v }}'"), HasSubstr("inside quotes"));
  // A raw placeholder is the author's own text, even in a quoted here-document.
  EXPECT_EQ(ParseError("cat <<'EOF'\n{{ raw params.v }}\nEOF"), "");
}

TEST(RenderKnownParams, RendersTheGivenParamsAndLeavesEverythingElseAsWritten) {
  const std::map<std::string, std::string> params = {{"v", "1.2.3"}};
  EXPECT_EQ(RenderKnownParams("image: app:{{ params.v }}\n", params), "image: app:1.2.3\n");
  EXPECT_EQ(RenderKnownParams("{{params.v}} {{ params.hidden }} {{  secrets.t }} "
                              "{{ steps.a.outputs.tag }} {{ run.id }} {{ env.X }}",
                              params),
            "1.2.3 {{ params.hidden }} {{  secrets.t }} {{ steps.a.outputs.tag }} {{ run.id }} "
            "{{ env.X }}");
  EXPECT_EQ(RenderKnownParams("{{ raw params.v }}", params), "1.2.3");
  EXPECT_EQ(RenderKnownParams("broken {{ params.v", params), "broken {{ params.v");
}

}  // namespace
}  // namespace runbook
