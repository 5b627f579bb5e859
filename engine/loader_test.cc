// The runbook language as the loader accepts and refuses it: every error kind, each located at
// the node that is wrong, and the model it builds (defaults, targets, generated ids).
#include "engine/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/schema.h"
#include "engine/status.h"

namespace runbook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

/// A fresh folder under /tmp, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/loader_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::string path_;
};

LoadResult Load(const std::string& text) { return LoadRunbookText(text, "f.yaml", "/srv/rb"); }

/// Every diagnostic as "file:line:col: error: message".
std::vector<std::string> Diags(const std::string& text) {
  std::vector<std::string> out;
  for (const Diagnostic& d : Load(text).diagnostics) out.push_back(d.ToString());
  return out;
}

/// The one error `text` must produce.
std::string OnlyError(const std::string& text) {
  LoadResult r = Load(text);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.size(), 1u);
  return r.diagnostics.empty() ? "" : r.diagnostics[0].ToString();
}

std::unique_ptr<Runbook> MustLoad(const std::string& text) {
  LoadResult r = Load(text);
  for (const Diagnostic& d : r.diagnostics) ADD_FAILURE() << d.ToString();
  EXPECT_TRUE(r.ok());
  return std::move(r.runbook);
}

const char* kOneStep = "runbook: demo\nsteps:\n  - id: one\n    shell: \"true\"\n";

// ------------------------------------------------------------------ errors, one kind each

TEST(LoaderErrors, UnknownKeyWithDidYouMean) {
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shel: \"echo\"\n"),
            "f.yaml:4:5: error: unknown key 'shel' in step; did you mean 'shell'?");
  EXPECT_EQ(OnlyError("runbook: demo\nstesp:\n  - id: one\n    shell: x\n"),
            "f.yaml:2:1: error: unknown key 'stesp' in runbook file; did you mean 'steps'?");
  // A misspelt required key is reported once, not also as missing.
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    ssh: {hosts: [h], comand: x}\n"),
            "f.yaml:4:23: error: unknown key 'comand' in ssh action; did you mean 'command'?");
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - ib: one\n    shell: x\n"),
            "f.yaml:3:5: error: unknown key 'ib' in step; did you mean 'id'?");
  // Nothing close: no suggestion.
  EXPECT_EQ(OnlyError(std::string(kOneStep) + "    x: 1\n"), "f.yaml:5:5: error: unknown key 'x' in step");
  EXPECT_EQ(OnlyError(std::string(kOneStep) + "    colour: blue\n"),
            "f.yaml:5:5: error: unknown key 'colour' in step");
}

TEST(LoaderErrors, BadDuration) {
  EXPECT_EQ(OnlyError(std::string(kOneStep) + "    timeout: 5 minutes\n"),
            "f.yaml:5:14: error: timeout: invalid duration '5 minutes' (use 500ms, 30s, 5m or 2h)");
  for (const char* bad : {"10", "-1s", "5 min", "1.s", "s", "1d", "1h 30m"}) {
    std::string e = OnlyError(std::string(kOneStep) + "    retry_delay: \"" + bad + "\"\n");
    EXPECT_THAT(e, HasSubstr("retry_delay: invalid duration '" + std::string(bad) + "'"));
  }
}

TEST(LoaderErrors, TwoActionsAndNoAction) {
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"true\"\n"
                      "    http: {url: \"http://x\"}\n"),
            "f.yaml:3:5: error: step 'one' has 2 actions ('shell' and 'http'); a step has exactly "
            "one of shell, ssh, kubectl or http");
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    name: nothing to do\n"),
            "f.yaml:3:5: error: step 'one' has no action: add one of shell, ssh, kubectl or http");
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: a\n    shell: x\nverify:\n  - name: v\n"),
              HasSubstr("f.yaml:6:5: error: verify check 'verify-1' has no action"));
}

TEST(LoaderErrors, DuplicateAndMissingIds) {
  EXPECT_EQ(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"true\"\n"
                "  - id: one\n    shell: \"true\"\n"),
      "f.yaml:5:9: error: duplicate step id 'one' (first used at line 3); ids must be unique");
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - shell: \"true\"\n"),
              HasSubstr("f.yaml:3:5: error: missing required key 'id'"));
  // Ids are unique across phases, generated ones included.
  EXPECT_THAT(OnlyError(std::string(kOneStep) + "verify:\n  - shell: x\n  - id: verify-1\n"
                                                "    shell: y\n"),
              HasSubstr("f.yaml:7:9: error: duplicate step id 'verify-1'"));
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: Bad.Id\n    shell: x\n"),
              HasSubstr("f.yaml:3:9: error: invalid step id 'Bad.Id'"));
}

TEST(LoaderErrors, UndefinedPlaceholders) {
  EXPECT_EQ(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ params.nope }}\"\n"),
      "f.yaml:4:12: error: undefined placeholder {{ params.nope }}: no param 'nope' "
      "(declare it under params)");
  EXPECT_THAT(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ secrets.tok }}\"\n"),
      HasSubstr("no secret 'tok'"));
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ param.x }}\"\n"),
              HasSubstr("f.yaml:4:12: error: unknown placeholder {{ param.x }}"));
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ params.x\"\n"),
              HasSubstr("unclosed '{{'"));
  // Every template field is checked, not only commands: json expectations too.
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    http: {url: \"http://h\", "
                        "json: {\"$.v\": \"{{ params.ver }}\"}}\n"),
              HasSubstr("no param 'ver'"));
  EXPECT_THAT(
      OnlyError(
          "runbook: demo\nsteps:\n  - id: one\n    http: {url: \"http://h/{{ params.p }}\"}\n"),
      HasSubstr("no param 'p'"));
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: {command: ls, env: {A: "
                        "\"{{ secrets.s }}\"}}\n"),
              HasSubstr("no secret 's'"));
  EXPECT_THAT(OnlyError("runbook: demo\ndescription: \"{{ secrets.s }}\"\nsecrets: {s: {env: S}}\n"
                        "steps:\n  - id: one\n    shell: x\n"),
              HasSubstr("f.yaml:2:14: error: placeholder {{ secrets.s }} is not allowed here"));
}

TEST(LoaderErrors, QuotedPlaceholder) {
  EXPECT_EQ(OnlyError("runbook: demo\nparams:\n  v: {default: \"1\"}\nsteps:\n  - id: one\n"
                      "    shell: \"echo '{{ params.v }}'\"\n"),
            "f.yaml:6:12: error: placeholder {{ params.v }} is inside quotes; values are inserted "
            "shell-quoted already, so write it unquoted, or use {{ raw params.v }}");
  // The same in an ssh command; raw is allowed inside quotes.
  const char* ssh =
      "runbook: demo\nparams: {v: {}}\ntargets: {web: {hosts: [h1]}}\nsteps:\n  - id: one\n"
      "    ssh: {target: web, command: \"echo \\\"{{ params.v }}\\\"\"}\n"
      "  - id: two\n    ssh: {target: web, command: \"echo '{{ raw params.v }}'\"}\n";
  EXPECT_THAT(OnlyError(ssh),
              HasSubstr("f.yaml:6:33: error: placeholder {{ params.v }} is inside quotes"));
  // Quotes do not matter outside shell commands.
  MustLoad(
      "runbook: demo\nparams: {v: {}}\nsteps:\n  - id: one\n"
      "    http: {url: \"http://h/\", body: \"'{{ params.v }}'\"}\n");
}

TEST(LoaderErrors, StepReferences) {
  // Unknown.
  EXPECT_EQ(
      OnlyError(
          "runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ steps.zero.stdout }}\"\n"),
      "f.yaml:4:12: error: undefined placeholder {{ steps.zero.stdout }}: no step 'zero'");
  // Later.
  EXPECT_THAT(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ steps.two.stdout }}\"\n"
                "  - id: two\n    shell: x\n"),
      HasSubstr("f.yaml:4:12: error: placeholder {{ steps.two.stdout }} refers to step 'two', "
                "which does not run before this step"));
  // Itself.
  EXPECT_THAT(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: \"echo {{ steps.one.stderr }}\"\n"),
      HasSubstr("which is this step itself"));
  // A precheck cannot read steps.
  EXPECT_THAT(
      OnlyError("runbook: demo\nprechecks:\n  - shell: \"echo {{ steps.one.stdout }}\"\n" +
                std::string(kOneStep).substr(14)),
      HasSubstr("f.yaml:3:12: error: placeholder {{ steps.one.stdout }} refers to step 'one'"));
  // Undeclared output.
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: x\n    outputs: {a: stdout}\n"
                      "  - id: two\n    shell: \"echo {{ steps.one.outputs.b }}\"\n"),
            "f.yaml:7:12: error: undefined placeholder {{ steps.one.outputs.b }}: step 'one' "
            "declares no output 'b' (add outputs: {b: stdout} to it)");
  // Another step's rollback action is not visible.
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: x\n"
                        "    rollback: {id: undo-one, shell: y}\n"
                        "  - id: two\n    shell: \"echo {{ steps.undo-one.stdout }}\"\n"),
              HasSubstr("a rollback action of another step"));
}

TEST(LoaderErrors, VisibleStepReferencesAreAccepted) {
  auto rb = MustLoad(
      "runbook: demo\n"
      "prechecks:\n  - id: pre\n    shell: x\n    outputs: {v: stdout}\n"
      "  - shell: \"echo {{ steps.pre.outputs.v }}\"\n"
      "steps:\n"
      "  - id: one\n    shell: \"echo {{ steps.pre.stdout }}\"\n    outputs: {val: stdout}\n"
      "    rollback:\n      - shell: \"undo {{ steps.one.outputs.val }}\"\n"
      "      - shell: \"{{ steps.one-rollback-1.stdout }}\"\n"
      "  - id: two\n    shell: \"echo {{ steps.one.outputs.val }} {{ run.id }} {{ env.HOME }}\"\n"
      "verify:\n  - shell: \"{{ steps.two.stdout }}\"\n  - shell: \"{{ steps.verify-1.stderr }}\"\n"
      "rollback:\n  - shell: \"{{ steps.verify-2.stdout }} {{ steps.pre.stdout }}\"\n"
      "  - shell: \"{{ steps.rollback-1.stdout }}\"\n");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->steps[0].rollback.actions.size(), 2u);
}

TEST(LoaderErrors, BadRisk) {
  EXPECT_EQ(OnlyError("runbook: demo\nrisk: extreme\nsteps:\n  - id: one\n    shell: \"true\"\n"),
            "f.yaml:2:7: error: risk: 'extreme' is not one of low, medium, high");
}

TEST(LoaderErrors, WrongTypes) {
  EXPECT_EQ(OnlyError("runbook: [a, b]\nsteps:\n  - id: one\n    shell: x\n"),
            "f.yaml:1:10: error: runbook: expected a string, got a list");
  EXPECT_EQ(OnlyError(std::string(kOneStep) + "    retries: many\n"),
            "f.yaml:5:14: error: retries: expected a whole number, got 'many'");
  EXPECT_EQ(OnlyError(std::string(kOneStep) + "    retries: -1\n"),
            "f.yaml:5:14: error: retries: -1 is out of range (0 to 1000)");
  EXPECT_EQ(OnlyError("runbook: demo\nsteps: {one: x}\n"),
            "f.yaml:2:8: error: steps: expected a list of steps, got a mapping");
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - just a string\n"),
            "f.yaml:3:5: error: step: expected a mapping, got 'just a string'");
  EXPECT_EQ(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: [ls]\n"),
      "f.yaml:4:12: error: shell: expected a command or a mapping {command, cwd, env}, got a list");
  EXPECT_EQ(
      OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell:\n"),
      "f.yaml:4:5: error: shell: expected a command or a mapping {command, cwd, env}, got nothing");
  EXPECT_THAT(OnlyError("runbook: demo\nknown_issues: {a: b}\n" + std::string(kOneStep).substr(14)),
              HasSubstr("f.yaml:2:15: error: known_issues: expected a list of strings"));
  EXPECT_THAT(
      OnlyError("runbook: demo\napproval: {required: 0}\n" + std::string(kOneStep).substr(14)),
      HasSubstr("required: 0 is out of range"));
  EXPECT_THAT(OnlyError("runbook: Demo_1\nsteps: []\n"),
              HasSubstr("runbook: invalid name 'Demo_1'"));
  EXPECT_THAT(OnlyError("runbook: demo\n"),
              HasSubstr("f.yaml:1:1: error: missing required key 'steps'"));
  EXPECT_THAT(OnlyError("steps: []\n"), HasSubstr("missing required key 'runbook'"));
  EXPECT_THAT(OnlyError("runbook: demo\nrunbook: again\nsteps: []\n"),
              HasSubstr("f.yaml:2:1: error: duplicate key 'runbook' in runbook file"));
}

TEST(LoaderErrors, MalformedYamlAndNonMappings) {
  std::string e = OnlyError("runbook: demo\nsteps: [\n  - id: one\n");
  EXPECT_THAT(e, HasSubstr("f.yaml:3:3: error: invalid YAML:"));
  EXPECT_THAT(OnlyError("- just\n- a list\n"),
              HasSubstr("f.yaml:1:1: error: runbook file: expected a mapping, got a list"));
  EXPECT_THAT(OnlyError("just text\n"),
              HasSubstr("f.yaml:1:1: error: runbook file: expected a mapping"));
  EXPECT_EQ(OnlyError(""),
            "f.yaml: error: empty file: a runbook needs at least 'runbook:' and 'steps:'");
  EXPECT_THAT(OnlyError("# only a comment\n"), HasSubstr("f.yaml: error: empty runbook"));
  EXPECT_THAT(OnlyError(std::string(kOneStep) + "---\nrunbook: other\n"),
              HasSubstr("f.yaml:6:1: error: more than one YAML document"));
  EXPECT_THAT(OnlyError("runbook: demo\n\tsteps: []\n"), HasSubstr("invalid YAML"));
}

TEST(LoaderErrors, BinaryText) {
  EXPECT_EQ(OnlyError(std::string("runbook: demo\0x", 15)),
            "f.yaml: error: not a text file: binary data at byte 13 (a runbook is UTF-8 YAML)");
  EXPECT_THAT(OnlyError("runbook: d\xff\xfe\n"), HasSubstr("binary data at byte 10"));
  EXPECT_THAT(OnlyError("runbook: d\xc3\n"), HasSubstr("binary data at byte 10"));  // truncated
  // Real UTF-8 is text.
  auto rb = MustLoad(
      "runbook: demo\ndescription: \"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80\"\nsteps: []\n");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->description, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80");
}

TEST(LoaderErrors, Files) {
  TempDir dir;
  std::string empty = dir.Write("empty.yaml", "");
  std::string binary;
  for (int i = 0; i < 64; ++i) {
    for (int c = 0; c < 256; ++c) binary.push_back(static_cast<char>(c));
  }
  std::string bin = dir.Write("binary.yaml", binary);
  std::filesystem::create_directory(dir.path() + "/adir");
  struct Case {
    std::string path;
    std::string message;
  };
  for (const Case& c :
       {Case{empty, empty + ": error: empty file"}, Case{bin, bin + ": error: not a text file"},
        Case{dir.path() + "/adir", dir.path() + "/adir: error: is a directory"},
        Case{dir.path() + "/missing.yaml",
             dir.path() + "/missing.yaml: error: cannot read runbook: No such file"}}) {
    LoadResult r = LoadRunbookFile(c.path);
    EXPECT_FALSE(r.ok()) << c.path;
    ASSERT_EQ(r.diagnostics.size(), 1u) << c.path;
    EXPECT_THAT(r.diagnostics[0].ToString(), HasSubstr(c.message));
  }
  if (::geteuid() != 0) {  // root reads anything
    std::string locked = dir.Write("locked.yaml", kOneStep);
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    LoadResult r = LoadRunbookFile(locked);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0].ToString(), HasSubstr("Permission denied"));
  }
}

TEST(LoaderErrors, EveryErrorIsReportedInFileOrder) {
  std::vector<std::string> d = Diags(
      "runbook: demo\n"
      "risk: extreme\n"  // 2
      "steps:\n"
      "  - id: a\n"
      "    shell: \"echo {{ params.nope }}\"\n"  // 5
      "    timeout: forever\n"                   // 6
      "  - id: a\n"                              // 7 duplicate
      "    shell: x\n"
      "    retires: 3\n"  // 9 did you mean
      "  - shell: y\n");  // 10 missing id
  ASSERT_EQ(d.size(), 6u) << ::testing::PrintToString(d);
  EXPECT_THAT(d[0], HasSubstr("f.yaml:2:7: error: risk"));
  EXPECT_THAT(d[1], HasSubstr("f.yaml:5:12: error: undefined placeholder"));
  EXPECT_THAT(d[2], HasSubstr("f.yaml:6:14: error: timeout: invalid duration 'forever'"));
  EXPECT_THAT(d[3], HasSubstr("f.yaml:7:9: error: duplicate step id 'a'"));
  EXPECT_THAT(
      d[4], HasSubstr("f.yaml:9:5: error: unknown key 'retires' in step; did you mean 'retries'?"));
  EXPECT_THAT(d[5], HasSubstr("f.yaml:10:5: error: missing required key 'id'"));
}

TEST(LoaderErrors, Rollbacks) {
  EXPECT_EQ(OnlyError("runbook: demo\nsteps:\n  - id: one\n    shell: x\n    rollback: auto\n"),
            "f.yaml:5:15: error: rollback: auto only works for a kubectl step with 'apply'; step "
            "'one' is a shell step, so give its undo as an action");
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - id: one\n    kubectl: {args: [get, pods]}\n"
                        "    rollback: auto\n"),
              HasSubstr("step 'one' runs 'args'"));
  EXPECT_THAT(OnlyError(std::string(kOneStep) + "    rollback: maybe\n"),
              HasSubstr("f.yaml:5:15: error: rollback: expected an action"));
  EXPECT_THAT(OnlyError(std::string(kOneStep) + "    rollback: []\n"),
              HasSubstr("got an empty list"));
  EXPECT_THAT(
      OnlyError(std::string(kOneStep) + "    rollback: {shel: x}\n"),
      HasSubstr(
          "f.yaml:5:16: error: unknown key 'shel' in rollback action; did you mean 'shell'?"));
  EXPECT_THAT(OnlyError(std::string(kOneStep) + "    rollback: {shell: x, rollback: none}\n"),
              HasSubstr("unknown key 'rollback' in rollback action"));
  EXPECT_THAT(OnlyError("runbook: demo\nsteps: []\nverify:\n  - shell: x\n    rollback: none\n"),
              HasSubstr("unknown key 'rollback' in verify check"));
}

TEST(LoaderErrors, TargetsAndActions) {
  const char* targets =
      "runbook: demo\ntargets:\n  web: {hosts: [web1, \"web2:2222\"]}\n"
      "  cluster: {context: prod}\nsteps:\n";
  auto step = [&](const std::string& s) {
    return std::string(targets) + "  - id: one\n    " + s + "\n";
  };
  EXPECT_THAT(OnlyError(step("ssh: {target: nope, command: x}")),
              HasSubstr("f.yaml:7:19: error: ssh: no target 'nope' (targets: web)"));
  EXPECT_THAT(OnlyError(step("ssh: {target: cluster, command: x}")),
              HasSubstr("target 'cluster' is a kubernetes target"));
  EXPECT_THAT(OnlyError(step("kubectl: {target: web, apply: m.yaml}")),
              HasSubstr("target 'web' is an ssh target"));
  EXPECT_THAT(OnlyError(step("kubectl: {apply: m.yaml, args: [get]}")),
              HasSubstr("either 'apply' or 'args', not both"));
  EXPECT_THAT(OnlyError(step("ssh: {command: x}")), HasSubstr("ssh: no hosts"));
  EXPECT_THAT(OnlyError(step("ssh: {target: web}")),
              HasSubstr("ssh: missing required key 'command'"));
  EXPECT_THAT(OnlyError(step("ssh: {target: web, command: x, max_fail: lots}")),
              HasSubstr("max_fail: expected a number of hosts or a percentage"));
  EXPECT_THAT(OnlyError(step("ssh: {hosts: [\"a:99999\"], command: x}")),
              HasSubstr("hosts: invalid host 'a:99999'"));
  EXPECT_THAT(OnlyError(step("ssh: {target: web, command: x, host_key_checking: off}")),
              HasSubstr("'off' is not one of strict, accept-new"));
  EXPECT_THAT(OnlyError(step("http: {method: GET}")),
              HasSubstr("http: missing required key 'url'"));
  EXPECT_THAT(OnlyError(step("http: {url: \"ftp://x\"}")),
              HasSubstr("is not an http:// or https:// url"));
  EXPECT_THAT(OnlyError(step("http: {url: \"http://x\", body_regex: \"(\"}")),
              HasSubstr("body_regex: '(' is not a valid regular expression"));
  EXPECT_THAT(OnlyError(step("http: {url: \"http://x\", expect_status: [200, 7xx]}")),
              HasSubstr("expect_status: expected a status"));
  EXPECT_THAT(
      OnlyError(step("http: {url: \"http://x\", timeout: 1s}\n    timeout: 2s")),
      HasSubstr("http: 'timeout' sets the step's timeout, which is already given on the step"));
  EXPECT_THAT(OnlyError(step("shell: x\n    outputs: {v: body}")),
              HasSubstr("source 'body' is only for http steps"));
  EXPECT_THAT(OnlyError("runbook: demo\ntargets: {both: {hosts: [a], context: c}}\nsteps: []\n"),
              HasSubstr("mixes ssh keys"));
  EXPECT_THAT(OnlyError("runbook: demo\ntargets: {k: {context: c, user: u}}\nsteps: []\n"),
              HasSubstr("'user' is an ssh key, but target 'k' is a kubernetes target"));
  EXPECT_THAT(
      OnlyError("runbook: demo\ntargets: {w: {hosts: [a], passphrase_secret: pw}}\nsteps: []\n"),
      HasSubstr("passphrase_secret: no secret 'pw'"));
}

TEST(LoaderErrors, ParamsAndSecrets) {
  EXPECT_THAT(OnlyError("runbook: demo\nparams: {v: {pattern: \"[\"}}\nsteps: []\n"),
              HasSubstr("pattern: '[' is not a valid regular expression"));
  EXPECT_THAT(
      OnlyError("runbook: demo\nparams: {v: {pattern: \"^[0-9]+$\", default: x}}\nsteps: []\n"),
      HasSubstr("default 'x' does not match its pattern"));
  EXPECT_THAT(OnlyError("runbook: demo\nparams: {my-param: {}}\nsteps: []\n"),
              HasSubstr("invalid param name 'my-param'"));
  EXPECT_THAT(OnlyError("runbook: demo\nsecrets: {t: {env: A, file: b}}\nsteps: []\n"),
              HasSubstr("give either 'env'"));
  EXPECT_THAT(OnlyError("runbook: demo\nsecrets: {t: {}}\nsteps: []\n"), HasSubstr("not neither"));
}

TEST(LoaderErrors, ChangeRequestAndRoles) {
  EXPECT_THAT(OnlyError("runbook: demo\nchecklist: [ok, Not OK]\nsteps: []\n"),
              HasSubstr("'Not OK' is not an item name"));
  EXPECT_THAT(OnlyError("runbook: demo\nchecklist: [a, a]\nsteps: []\n"), HasSubstr("listed twice"));
  EXPECT_THAT(OnlyError("runbook: demo\nimpact: {rollback_time: soon}\nsteps: []\n"),
              HasSubstr("soon"));
  EXPECT_THAT(OnlyError("runbook: demo\nimpact: {downtim: x}\nsteps: []\n"),
              HasSubstr("unknown key 'downtim'"));
  EXPECT_THAT(OnlyError("runbook: demo\napproval: {rules: [{role: pm}]}\nsteps: []\n"),
              HasSubstr("roles come from a team file"));
  EXPECT_THAT(OnlyError("runbook: demo\napproval: {team: ./none.yaml}\nsteps: []\n"),
              HasSubstr("team: cannot read /srv/rb/none.yaml"));

  TempDir dir;
  dir.Write("team.yaml", "pm: [Paula, \" bo \"]\nqa: \"x\"\n");
  const std::string rb = dir.Write("rb.yaml", R"(runbook: demo
params: {api: {default: "no"}}
approval:
  team: ./team.yaml
  rules:
    - {role: pm, required: 3}
    - {role: sre}
    - {role: pm, when: {param: nope, equals: "1"}}
    - {role: pm, when: {param: api}}
steps: []
)");
  std::vector<std::string> errors;
  for (const Diagnostic& d : LoadRunbookFile(rb).diagnostics) errors.push_back(d.ToString());
  EXPECT_THAT(errors, ElementsAre(HasSubstr("role 'qa'"),
                                  HasSubstr("3 approvals of 'pm' required but the role has 2"),
                                  HasSubstr("role 'sre' is not in"), HasSubstr("does not declare"),
                                  HasSubstr("'param' and 'equals' go together")));
}

TEST(LoaderErrors, Notify) {
  EXPECT_EQ(OnlyError("runbook: demo\nnotify: {url: x}\nsteps: []\n"),
            "f.yaml:2:9: error: notify: expected a list of webhooks ({url: URL, on: [...]}), "
            "got a mapping");
  EXPECT_EQ(OnlyError("runbook: demo\nnotify:\n  - on: [run_started]\nsteps: []\n"),
            "f.yaml:3:5: error: notify entry: missing 'url' (the URL to post to)");
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - url: \"http://h/x\"\n"
                        "    on: [run_started, run_exploded]\nsteps: []\n"),
              HasSubstr("f.yaml:4:9: error: on: unknown event 'run_exploded' (known: "
                        "run_started, succeeded, aborted, rolled_back, "
                        "rollback_failed, approval_requested, approved)"));
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - url: \"{{ secrets.hook }}\"\n"
                        "steps: []\n"),
              HasSubstr("f.yaml:3:10: error: undefined placeholder {{ secrets.hook }}"));
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - url: \"http://h/{{ steps.a.stdout }}\"\n"
                        "steps: []\n"),
              HasSubstr("a step's output is not known when the run starts"));
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - url: hooks.example\nsteps: []\n"),
              HasSubstr("'hooks.example' is not an http:// or https:// URL"));
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - {url: \"http://h\", timeout: 0s}\n"
                        "steps: []\n"),
              HasSubstr("timeout: must be more than 0"));
  EXPECT_THAT(OnlyError("runbook: demo\nnotify:\n  - {uri: \"http://h\"}\nsteps: []\n"),
              HasSubstr("did you mean 'url'?"));
}

TEST(Loader, Notify) {
  std::unique_ptr<Runbook> rb = MustLoad(R"(runbook: demo
secrets: {slack_url: {env: SLACK_URL}}
notify:
  - url: "{{ secrets.slack_url }}"
    on: [run_started, rollback_failed, run_started]
    timeout: 2s
  - url: https://hooks.example/x
    ca_file: ca.pem
    insecure: false
steps: []
)");
  ASSERT_TRUE(rb);
  ASSERT_EQ(rb->notify.size(), 2u);
  const NotifyTarget& a = rb->notify[0];
  EXPECT_EQ(a.webhook, "{{ secrets.slack_url }}");
  EXPECT_THAT(a.events, ElementsAre(NotifyEvent::kRunStarted, NotifyEvent::kRollbackFailed));
  EXPECT_EQ(a.timeout, Duration{2000});
  EXPECT_TRUE(a.Wants(NotifyEvent::kRollbackFailed));
  EXPECT_FALSE(a.Wants(NotifyEvent::kRunSucceeded));
  const NotifyTarget& b = rb->notify[1];
  EXPECT_TRUE(b.events.empty());
  EXPECT_TRUE(b.Wants(NotifyEvent::kApprovalApproved));
  EXPECT_EQ(b.timeout, Duration{10000});
  EXPECT_EQ(b.ca_file, "/srv/rb/ca.pem");
  for (int i = 0; i < kNotifyEventCount; ++i) {
    const auto event = static_cast<NotifyEvent>(i);
    EXPECT_EQ(ParseNotifyEvent(NotifyEventName(event)), event);
  }
}

TEST(Loader, ChangeRequestFields) {
  TempDir dir;
  dir.Write("team.yaml", "pm: [Paula, \" bo \"]\n");
  const std::string rb = dir.Write("rb.yaml", R"(runbook: demo
purpose: Move billing (T-1)
impact: {downtime: none, rollback_time: 5m, dependencies: db, data_migration: adds a column}
checklist: [backup-verified, oncall-paged]
inputs: ["config/*.conf"]
approval:
  team: ./team.yaml
  rules:
    - {role: pm, when: {environment: production}}
steps: []
)");
  LoadResult r = LoadRunbookFile(rb);
  ASSERT_TRUE(r.ok());
  const Runbook& b = *r.runbook;
  EXPECT_EQ(b.purpose, "Move billing (T-1)");
  EXPECT_EQ(b.impact.rollback_time, "5m");
  EXPECT_EQ(b.impact.data_migration, "adds a column");
  EXPECT_THAT(b.checklist, ElementsAre("backup-verified", "oncall-paged"));
  EXPECT_THAT(b.inputs, ElementsAre("config/*.conf"));
  ASSERT_TRUE(b.approval);
  EXPECT_THAT(b.approval->team.at("pm"), ElementsAre("paula", "bo"));
  ASSERT_EQ(b.approval->rules.size(), 1u);
  EXPECT_EQ(b.approval->rules[0].Describe(), "pm when environment is production");
}

// ------------------------------------------------------------------ the model it builds

TEST(Loader, FullRunbook) {
  ::setenv("USER", "tester", 1);
  ::setenv("HOME", "/home/tester", 1);
  auto rb = MustLoad(R"(runbook: web-release
description: Roll out web {{ params.version }}
risk: high
environment: production
owner: team-web
estimated_duration: 10m
approval:
  required: 2
  approvers: [alice, bob, carol]
  allowed_signers: ./allowed_signers
  expires: 24h
params:
  version: {required: true, pattern: '^[0-9]+\.[0-9]+\.[0-9]+$', description: release to roll out}
  replicas: {default: "3"}
secrets:
  api_token: {env: API_TOKEN}
  key_pass: {file: secrets/pass}
targets:
  web:
    hosts: [web1, "web2:2222"]
    user: deploy
    identity_file: ~/.ssh/id_ed25519
    passphrase_secret: key_pass
    host_key_checking: accept-new
  cluster:
    kubeconfig: kube/config
    context: prod
    namespace: web
defaults: {timeout: 60s, retries: 1, retry_delay: 2s}
prechecks:
  - name: disk space
    ssh: {target: web, command: "test $(df --output=avail / | tail -1) -gt 1000000"}
steps:
  - id: switch
    name: Point current at the new release
    ssh: {target: web, batch: 1, max_fail: 25%, user: admin, port: 2200,
          command: "ln -sfn /srv/releases/{{ params.version }} /srv/current"}
    rollback:
      ssh: {target: web, command: "ln -sfn \"$(cat /srv/previous)\" /srv/current"}
  - id: migrate
    shell: {command: "./migrate.sh up {{ params.version }}", cwd: ./db, env: {PGHOST: db1}}
    timeout: 5m
    retries: 2
    kill_grace: 1s
    outputs: {migration: stdout}
    rollback: {shell: "./migrate.sh down {{ steps.migrate.outputs.migration }}", timeout: 30s}
  - id: apply
    kubectl: {target: cluster, apply: manifests/web.yaml, wait: 120s}
    rollback: auto
  - id: announce
    http: {url: "https://chat.example/hook", method: post, body: "{{ params.version }} live",
           headers: {Authorization: "Bearer {{ secrets.api_token }}"}}
    rollback: none
verify:
  - name: health
    http: {url: "https://web.example/health", expect_status: [200, "3xx"], body_contains: ok,
           retries: 10, interval: 3s, timeout: 2s, json: {"$.status": UP, "$.n": 3, "$.q": "3", "$.b": true}}
    outputs: {status: "$.status"}
rollback:
  - shell: "echo rolled back {{ params.version }}"
known_issues:
  - "Cache warm-up takes ~2 minutes after a switch; verify retries cover it."
)");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->name, "web-release");
  EXPECT_EQ(rb->path, "f.yaml");
  EXPECT_EQ(rb->dir, "/srv/rb");
  EXPECT_EQ(rb->risk, Risk::kHigh);
  EXPECT_EQ(rb->lock, "production/web-release");
  EXPECT_EQ(rb->estimated_duration, "10m");
  ASSERT_TRUE(rb->approval);
  EXPECT_EQ(rb->approval->required, 2);
  EXPECT_THAT(rb->approval->approvers, ElementsAre("alice", "bob", "carol"));
  EXPECT_EQ(rb->approval->allowed_signers, "/srv/rb/allowed_signers");
  EXPECT_EQ(rb->approval->expires, std::chrono::hours(24));
  ASSERT_EQ(rb->params.size(), 2u);
  EXPECT_TRUE(rb->params[0].required);
  EXPECT_EQ(rb->params[0].description, "release to roll out");
  EXPECT_EQ(rb->params[1].default_value, "3");
  ASSERT_EQ(rb->secrets.size(), 2u);
  EXPECT_EQ(rb->secrets[0].source, SecretSpec::Source::kEnv);
  EXPECT_EQ(rb->secrets[1].ref, "/srv/rb/secrets/pass");

  const Target& web = rb->targets.at("web");
  EXPECT_EQ(web.kind, Target::Kind::kSsh);
  EXPECT_THAT(web.ssh.hosts, ElementsAre("web1", "web2:2222"));
  EXPECT_EQ(web.ssh.user, "deploy");
  EXPECT_EQ(web.ssh.port, 22);
  EXPECT_EQ(web.ssh.identity_file, "/home/tester/.ssh/id_ed25519");
  EXPECT_EQ(web.ssh.known_hosts, "/home/tester/.ssh/known_hosts");
  EXPECT_EQ(web.ssh.host_key_checking, HostKeyChecking::kAcceptNew);
  EXPECT_EQ(web.ssh.connect_timeout, std::chrono::seconds(10));
  const Target& cluster = rb->targets.at("cluster");
  EXPECT_EQ(cluster.kind, Target::Kind::kKube);
  EXPECT_EQ(cluster.kube.kubeconfig, "/srv/rb/kube/config");
  EXPECT_EQ(cluster.kube.namespace_, "web");

  ASSERT_EQ(rb->prechecks.size(), 1u);
  EXPECT_EQ(rb->prechecks[0].id, "precheck-1");
  EXPECT_EQ(rb->prechecks[0].name, "disk space");
  EXPECT_EQ(rb->prechecks[0].phase, Phase::kPrecheck);
  EXPECT_EQ(rb->prechecks[0].loc.line, 31);

  ASSERT_EQ(rb->steps.size(), 4u);
  const StepSpec& sw = rb->steps[0];
  EXPECT_EQ(sw.name, "Point current at the new release");
  const auto& ssh = std::get<SshAction>(sw.action);
  EXPECT_EQ(ssh.target, "web");
  EXPECT_EQ(ssh.batch, 1);
  EXPECT_EQ(ssh.max_fail.value, 25);
  EXPECT_TRUE(ssh.max_fail.percent);
  EXPECT_EQ(ssh.max_fail.Allowed(8), 2);
  EXPECT_EQ(ssh.resolved.user, "admin");  // inline keys override the target
  EXPECT_EQ(ssh.resolved.port, 2200);
  EXPECT_EQ(ssh.resolved.passphrase_secret, "key_pass");
  EXPECT_THAT(ssh.resolved.hosts, ElementsAre("web1", "web2:2222"));
  EXPECT_EQ(sw.timeout, std::chrono::seconds(60));  // defaults
  EXPECT_EQ(sw.retries, 1);
  EXPECT_EQ(sw.retry_delay, std::chrono::seconds(2));
  EXPECT_EQ(sw.kill_grace, std::chrono::seconds(5));
  ASSERT_EQ(sw.rollback.kind, RollbackSpec::Kind::kActions);
  ASSERT_EQ(sw.rollback.actions.size(), 1u);
  EXPECT_EQ(sw.rollback.actions[0].id, "switch-rollback-1");
  EXPECT_EQ(sw.rollback.actions[0].phase, Phase::kRollback);
  EXPECT_EQ(std::get<SshAction>(sw.rollback.actions[0].action).resolved.user, "deploy");

  const StepSpec& mig = rb->steps[1];
  const auto& sh = std::get<ShellAction>(mig.action);
  EXPECT_EQ(sh.command, "./migrate.sh up {{ params.version }}");
  EXPECT_EQ(sh.cwd, "/srv/rb/db");
  EXPECT_EQ(sh.env.at("PGHOST"), "db1");
  EXPECT_EQ(mig.timeout, std::chrono::minutes(5));
  EXPECT_EQ(mig.retries, 2);
  EXPECT_EQ(mig.kill_grace, std::chrono::seconds(1));
  ASSERT_EQ(mig.outputs.size(), 1u);
  EXPECT_EQ(mig.outputs[0].name, "migration");
  EXPECT_EQ(mig.outputs[0].source, "stdout");
  EXPECT_EQ(mig.rollback.actions[0].timeout, std::chrono::seconds(30));
  EXPECT_EQ(mig.rollback.actions[0].retries, 1);

  const StepSpec& apply = rb->steps[2];
  EXPECT_EQ(apply.rollback.kind, RollbackSpec::Kind::kAuto);
  const auto& kube = std::get<KubectlAction>(apply.action);
  EXPECT_EQ(kube.apply, "/srv/rb/manifests/web.yaml");
  EXPECT_EQ(kube.resolved.context, "prod");
  EXPECT_EQ(kube.wait, std::chrono::seconds(120));
  EXPECT_EQ(apply.action_loc.line, 48);

  const StepSpec& ann = rb->steps[3];
  EXPECT_EQ(ann.rollback.kind, RollbackSpec::Kind::kNone);
  const auto& post = std::get<HttpAction>(ann.action);
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(post.headers.at("Authorization"), "Bearer {{ secrets.api_token }}");
  EXPECT_TRUE(post.expect_status.empty());

  ASSERT_EQ(rb->verify.size(), 1u);
  const StepSpec& health = rb->verify[0];
  EXPECT_EQ(health.id, "verify-1");
  EXPECT_EQ(health.phase, Phase::kVerify);
  EXPECT_EQ(health.retries, 10);  // http's retries/interval/timeout are the step's
  EXPECT_EQ(health.retry_delay, std::chrono::seconds(3));
  EXPECT_EQ(health.timeout, std::chrono::seconds(2));
  const auto& get = std::get<HttpAction>(health.action);
  ASSERT_EQ(get.expect_status.size(), 2u);
  EXPECT_EQ(get.expect_status[0].low, 200);
  EXPECT_EQ(get.expect_status[0].high, 200);
  EXPECT_EQ(get.expect_status[1].low, 300);
  EXPECT_EQ(get.expect_status[1].high, 399);
  ASSERT_EQ(get.json.size(), 4u);
  EXPECT_EQ(get.json[0].second, nlohmann::json("UP"));
  EXPECT_EQ(get.json[1].second, nlohmann::json(3));
  EXPECT_EQ(get.json[2].second, nlohmann::json("3"));
  EXPECT_EQ(get.json[3].second, nlohmann::json(true));
  EXPECT_EQ(health.outputs[0].source, "$.status");

  ASSERT_EQ(rb->rollback.size(), 1u);
  EXPECT_EQ(rb->rollback[0].id, "rollback-1");
  EXPECT_EQ(rb->rollback[0].phase, Phase::kRollback);
  EXPECT_THAT(rb->known_issues, ElementsAre(HasSubstr("Cache warm-up")));

  EXPECT_EQ(rb->FindStep("migrate"), &rb->steps[1]);
  EXPECT_EQ(rb->FindStep("switch-rollback-1"), &rb->steps[0].rollback.actions[0]);
  EXPECT_EQ(rb->FindStep("verify-1"), &rb->verify[0]);
  EXPECT_EQ(rb->FindStep("nope"), nullptr);
}

TEST(Loader, DefaultsWhenNothingIsWritten) {
  ::unsetenv("USER");
  auto rb = MustLoad(
      "runbook: demo\ntargets: {w: {hosts: [h]}}\nsteps:\n  - id: one\n    shell: x\n"
      "  - id: two\n    ssh: {hosts: [\"10.0.0.1\", \"[::1]:2022\"], command: y, "
      "known_hosts: kh}\n");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->risk, Risk::kMedium);
  EXPECT_EQ(rb->lock, "demo");
  EXPECT_FALSE(rb->approval);
  EXPECT_EQ(rb->text,
            "runbook: demo\ntargets: {w: {hosts: [h]}}\nsteps:\n  - id: one\n    shell: x\n"
            "  - id: two\n    ssh: {hosts: [\"10.0.0.1\", \"[::1]:2022\"], command: y, "
            "known_hosts: kh}\n");
  const StepSpec& one = rb->steps[0];
  EXPECT_EQ(one.name, "one");
  EXPECT_EQ(one.timeout, Duration(0));
  EXPECT_EQ(one.retries, 0);
  EXPECT_EQ(one.retry_delay, std::chrono::seconds(2));
  EXPECT_EQ(one.kill_grace, std::chrono::seconds(5));
  EXPECT_EQ(one.rollback.kind, RollbackSpec::Kind::kUnset);
  EXPECT_EQ(std::get<ShellAction>(one.action).cwd, "");
  EXPECT_EQ(rb->targets.at("w").ssh.user, "root");
  const auto& ssh = std::get<SshAction>(rb->steps[1].action);
  EXPECT_EQ(ssh.target, "");
  EXPECT_EQ(ssh.resolved.known_hosts, "/srv/rb/kh");
  EXPECT_EQ(ssh.resolved.port, 22);
  EXPECT_EQ(ssh.max_fail.value, 0);

  auto locked = MustLoad("runbook: demo\nenvironment: prod\nsteps: []\n");
  EXPECT_EQ(locked->lock, "prod/demo");
  auto named = MustLoad("runbook: demo\nenvironment: prod\nlock: shared\nsteps: []\n");
  EXPECT_EQ(named->lock, "shared");
}

TEST(Loader, MergeKeysShareSettings) {
  auto rb = MustLoad(
      "runbook: demo\n"
      "x-slow: &slow {timeout: 5m, retries: 3}\n"
      "steps:\n"
      "  - <<: *slow\n    id: a\n    shell: x\n    retries: 1\n"
      "  - {<<: [*slow], id: b, shell: y}\n");
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->steps[0].timeout, std::chrono::minutes(5));
  EXPECT_EQ(rb->steps[0].retries, 1);  // the explicit key wins
  EXPECT_EQ(rb->steps[1].retries, 3);
  EXPECT_THAT(OnlyError("runbook: demo\nsteps:\n  - <<: {id: a, shel: x}\n"),
              HasSubstr("f.yaml:3:17: error: unknown key 'shel' in step; did you mean 'shell'?"));
}

TEST(Loader, FileKeepsPathTextAndFolder) {
  TempDir dir;
  std::string path = dir.Write("r.yaml", kOneStep);
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  LoadResult r = LoadRunbookFile("r.yaml");
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.runbook->path, "r.yaml");
  EXPECT_EQ(r.runbook->dir, std::filesystem::path(dir.path()).lexically_normal().string());
  EXPECT_EQ(r.runbook->text, kOneStep);
}

TEST(Loader, HundredThousandStepsInFlowStyle) {
  std::string text = "runbook: demo\nsteps:\n";
  for (int i = 0; i < 100000; ++i)
    text += "  - {id: s" + std::to_string(i) + ", shell: \"true\"}\n";
  LoadResult r = Load(text);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.runbook->steps.size(), 100000u);
  EXPECT_EQ(r.runbook->steps.back().id, "s99999");
  EXPECT_EQ(r.runbook->steps.back().loc.line, 100002);
  EXPECT_EQ(r.runbook->steps.back().loc.col, 5);

  // A duplicate at the very end is found and located (on a smaller file, to keep debug
  // builds quick).
  text.resize(text.find("  - {id: s10000,"));
  text += "  - {id: s5, shell: \"true\"}\n";
  EXPECT_THAT(Diags(text), ElementsAre("f.yaml:10003:10: error: duplicate step id 's5' (first "
                                       "used at line 8); ids must be unique"));
}

// ------------------------------------------------------------------ params and secrets

TEST(BindParams, DefaultsPatternsAndErrors) {
  auto rb = MustLoad(
      "runbook: demo\nparams:\n  version: {required: true, pattern: '^[0-9]+\\.[0-9]+$'}\n"
      "  who: {default: world}\n  opt: {}\nsteps: []\n");
  auto ok = BindParams(*rb, {{"version", "1.2"}});
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->at("version"), "1.2");
  EXPECT_EQ(ok->at("who"), "world");
  EXPECT_EQ(ok->at("opt"), "");
  EXPECT_EQ(BindParams(*rb, {{"version", "1.2"}, {"who", "you"}})->at("who"), "you");

  auto missing = BindParams(*rb, {});
  EXPECT_EQ(missing.message(), "missing required param 'version' (pass -p version=VALUE)");
  auto bad = BindParams(*rb, {{"version", "abc"}});
  EXPECT_EQ(bad.message(), "param 'version' = 'abc' does not match ^[0-9]+\\.[0-9]+$");
  // The pattern must match the whole value.
  EXPECT_FALSE(BindParams(*rb, {{"version", "1.2.3"}}).ok());
  auto several = BindParams(*rb, {{"verison", "1.2"}});
  EXPECT_EQ(several.message(),
            "unknown param 'verison' (this runbook takes: version, who, opt)\n"
            "missing required param 'version' (pass -p version=VALUE)");
}

TEST(ResolveSecrets, EnvAndFile) {
  TempDir dir;
  dir.Write("token", "from-file\n\n");
  dir.Write("crlf", "dos\r\n");
  auto rb = LoadRunbookText(
                "runbook: demo\nsecrets:\n  a: {env: LOADER_TEST_A}\n  b: {file: token}\n"
                "  c: {file: crlf}\nsteps: []\n",
                "f.yaml", dir.path())
                .runbook;
  ASSERT_TRUE(rb);
  ::setenv("LOADER_TEST_A", "from-env", 1);
  auto s = ResolveSecrets(*rb);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->at("a"), "from-env");
  EXPECT_EQ(s->at("b"), "from-file\n");  // only one trailing newline goes
  EXPECT_EQ(s->at("c"), "dos");

  ::unsetenv("LOADER_TEST_A");
  std::filesystem::remove(dir.path() + "/token");
  auto missing = ResolveSecrets(*rb);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(),
              HasSubstr("secret 'a': environment variable LOADER_TEST_A is not set\n"));
  EXPECT_THAT(missing.message(),
              HasSubstr("secret 'b': cannot read file " + dir.path() + "/token: No such file"));
}

// ------------------------------------------------------------------ durations

TEST(Duration, ParseAndFormat) {
  Duration d;
  struct Case {
    const char* text;
    int64_t ms;
  };
  for (Case c :
       {Case{"500ms", 500}, Case{"30s", 30000}, Case{"5m", 300000}, Case{"2h", 7200000},
        Case{"1h30m", 5400000}, Case{"1.5s", 1500}, Case{"0s", 0}, Case{"1m0.25s", 60250}}) {
    ASSERT_TRUE(ParseDuration(c.text, &d)) << c.text;
    EXPECT_EQ(d.count(), c.ms) << c.text;
  }
  for (const char* bad :
       {"", "10", "-1s", "5 minutes", "1.s", ".5s", "ms", "1x", "9999999999999s", "1h 30m", "1S"}) {
    EXPECT_FALSE(ParseDuration(bad, &d)) << bad;
  }
  EXPECT_EQ(FormatDuration(Duration(250)), "250ms");
  EXPECT_EQ(FormatDuration(Duration(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(Duration(120000)), "2m");
  EXPECT_EQ(FormatDuration(Duration(5400000)), "1h30m");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(Duration(61005)), "1m1.005s");
  for (int64_t ms : {1, 999, 1000, 1500, 59999, 60000, 3600000, 3723456}) {
    ASSERT_TRUE(ParseDuration(FormatDuration(Duration(ms)), &d)) << ms;
    EXPECT_EQ(d.count(), ms);
  }
}

// ------------------------------------------------------------------ schema, status

TEST(Schema, IsDraft07AndDescribesTheFormat) {
  nlohmann::json s = nlohmann::json::parse(RunbookJsonSchema());
  EXPECT_EQ(s["$schema"], "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(s["additionalProperties"], false);
  EXPECT_EQ(s["required"], nlohmann::json({"runbook", "steps"}));
  for (const char* key : {"runbook", "description", "risk", "environment", "owner",
                          "estimated_duration", "lock", "approval", "params", "secrets", "targets",
                          "defaults", "prechecks", "steps", "verify", "rollback", "known_issues"}) {
    EXPECT_TRUE(s["properties"].contains(key)) << key;
  }
  EXPECT_EQ(s["properties"]["risk"]["enum"], nlohmann::json({"low", "medium", "high"}));
  const nlohmann::json& step = s["definitions"]["step"];
  EXPECT_EQ(step["additionalProperties"], false);
  EXPECT_EQ(step["required"], nlohmann::json({"id"}));
  EXPECT_EQ(step["oneOf"].size(), 4u);
  EXPECT_TRUE(step["properties"].contains("rollback"));
  EXPECT_FALSE(s["definitions"]["check"]["properties"].contains("rollback"));
  EXPECT_TRUE(step["properties"]["timeout"].contains("description"));
  // Every $ref points at a definition that exists.
  std::vector<std::string> refs;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) refs.push_back(j["$ref"]);
      for (const auto& item : j.items()) walk(item.value());
    } else if (j.is_array()) {
      for (const auto& item : j) walk(item);
    }
  };
  walk(s);
  EXPECT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.rfind("#/definitions/", 0), 0u) << ref;
    EXPECT_TRUE(s["definitions"].contains(ref.substr(14))) << ref;
  }
}

TEST(StatusAndResult, Basics) {
  Status ok = Status::Ok();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  Status bad = Status::Error("boom");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "boom");

  Result<int> value = 42;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  EXPECT_TRUE(value.status().ok());
  Result<int> error = Result<int>::Error("nope");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.message(), "nope");
  EXPECT_EQ(error.status().message(), "nope");
  Result<std::string> moved = std::string("abc");
  std::string taken = std::move(moved).value();
  EXPECT_EQ(taken, "abc");
  EXPECT_EQ(Result<std::string>(Status::Error("e")).message(), "e");
}

}  // namespace
}  // namespace runbook
