// Bad input of every kind must give diagnostics, never a crash or a hang: feed the loader
// mutations of a valid runbook (truncations, byte flips, spliced YAML fragments) and check that
// each one either loads or is rejected with at least one located error.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/loader.h"

namespace runbook {
namespace {

const char kValid[] = R"(runbook: robust
description: release {{ params.version }}
risk: high
environment: prod
params:
  version: {required: true, pattern: '^[0-9.]+$'}
  who: {default: "world"}
secrets:
  token: {env: TOKEN}
targets:
  web: {hosts: [a, "b:2222"], user: deploy, known_hosts: /dev/null}
  cluster: {kubeconfig: /dev/null, context: prod, namespace: web}
defaults: {timeout: 30s, retries: 1, retry_delay: 100ms}
prechecks:
  - shell: "true"
steps:
  - id: one
    shell: {command: "echo {{ params.version }} {{ secrets.token }}", env: {A: "{{ params.who }}"}}
    outputs: {v: stdout}
    rollback: {shell: "echo undo {{ steps.one.outputs.v }}"}
  - id: two
    ssh: {target: web, command: "echo {{ steps.one.stdout }}", batch: 1, max_fail: 50%}
    rollback: [{shell: "true"}, {shell: "false"}]
  - id: three
    kubectl: {target: cluster, apply: manifests/, wait: 60s}
    rollback: auto
  - id: four
    http: {url: "http://127.0.0.1/x", method: POST, body: "{{ params.version }}", expect_status: [200, 201]}
    rollback: none
verify:
  - http: {url: "http://127.0.0.1/health", expect_status: 2xx, json: {"$.status": UP}, retries: 3, interval: 1s}
rollback:
  - shell: "echo global"
known_issues: ["none"]
)";

const char* kFragments[] = {
    "{", "}", "[", "]", ": ", "- ", "\n  ", "\t", "&a", "*a", "!!binary", "{{", "}}",
    "{{ params.", "'", "\"", "\\", "---\n", "...", "? ", "|\n", ">-\n", "%YAML 1.2\n",
    "\xff\xfe", "\0", "~", "null", "[1, 2", "{a: {b: {c: [", "<<: *a", "5 minutes", "-1"};

TEST(LoaderRobustnessTest, TheSampleIsValid) {
  LoadResult r = LoadRunbookText(kValid, "robust.yaml", "/tmp");
  for (const auto& d : r.diagnostics) ADD_FAILURE() << d.ToString();
  EXPECT_TRUE(r.ok());
}

TEST(LoaderRobustnessTest, MutationsNeverCrashAndAlwaysExplainARejection) {
  std::mt19937 rng(20261123);
  const std::string valid(kValid);
  for (int i = 0; i < 3000; ++i) {
    std::string text = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (text.size() + 1);
      switch (rng() % 4) {
        case 0:  // truncate
          text.resize(at);
          break;
        case 1:  // flip a byte
          if (at < text.size()) text[at] = static_cast<char>(rng() % 256);
          break;
        case 2: {  // splice a fragment
          const char* f = kFragments[rng() % (sizeof kFragments / sizeof *kFragments)];
          text.insert(at, f[0] == '\0' ? std::string(1, '\0') : std::string(f));
          break;
        }
        case 3: {  // delete a run
          const size_t n = rng() % 20;
          if (at < text.size()) text.erase(at, n);
          break;
        }
      }
    }
    LoadResult r = LoadRunbookText(text, "m.yaml", "/tmp");
    if (!r.ok()) {
      bool has_error = false;
      for (const auto& d : r.diagnostics) {
        has_error |= d.severity == Diagnostic::Severity::kError;
        EXPECT_EQ(d.ToString().rfind("m.yaml", 0), 0u) << d.ToString();
      }
      EXPECT_TRUE(has_error) << "rejected without an error for mutation " << i << ":\n" << text;
    }
  }
}

// Found by fuzz/loader_fuzzer.cc (fuzz/regressions/loader/): x- keys are not read, so a
// node holding an alias of itself there passed validation, and `runbook plan` overflowed its
// stack turning the runbook into JSON for the plan hash.
TEST(LoaderRobustnessTest, AnAliasInsideItsOwnNodeIsAnError) {
  for (const char* text :
       {"runbook: x\nx-a: &a [*a]\nsteps:\n  - id: a\n    shell: \"true\"\n",
        "runbook: x\nx-a: &a {b: [1, {c: *a}]}\nsteps: [{id: a, shell: \"true\"}]\n",
        "runbook: x\nsteps: &s\n  - id: a\n    shell: \"true\"\n    x-s: *s\n"}) {
    LoadResult r = LoadRunbookText(text, "cycle.yaml", "/tmp");
    EXPECT_FALSE(r.ok()) << text;
    ASSERT_EQ(r.diagnostics.size(), 1u) << text;
    EXPECT_NE(r.diagnostics[0].ToString().find("contains an alias of itself"), std::string::npos)
        << r.diagnostics[0].ToString();
  }
  LoadResult located = LoadRunbookText("runbook: x\nx-a: &a [*a]\nsteps: []\n", "c.yaml", "/tmp");
  ASSERT_FALSE(located.diagnostics.empty());
  EXPECT_EQ(located.diagnostics[0].ToString().rfind("c.yaml:2:6: error: ", 0), 0u)
      << located.diagnostics[0].ToString();
}

// Aliases of aliases, ten at each of nine levels: 10^9 nodes for whatever reads the runbook
// whole. Refused at once; and a runbook that repeats a node through aliases still loads.
TEST(LoaderRobustnessTest, AliasesThatMultiplyTheRunbookAreAnError) {
  std::string bomb = "runbook: x\nx-0: &a0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string below = "*a" + std::to_string(i - 1);
    bomb += "x-" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + below;
    bomb += "]\n";
  }
  bomb += "steps:\n  - id: a\n    shell: \"true\"\n";
  LoadResult r = LoadRunbookText(bomb, "bomb.yaml", "/tmp");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].message.find("aliases expand the runbook"), std::string::npos)
      << r.diagnostics[0].ToString();

  LoadResult shared = LoadRunbookText(
      "runbook: x\nx-defaults: &d {timeout: 5s, retries: 1}\nsteps:\n"
      "  - {id: a, shell: \"true\", <<: *d}\n  - {id: b, shell: \"true\", <<: *d}\n",
      "shared.yaml", "/tmp");
  for (const auto& d : shared.diagnostics) ADD_FAILURE() << d.ToString();
  EXPECT_TRUE(shared.ok());
}

TEST(LoaderRobustnessTest, DeepNestingIsRejectedNotOverflowed) {
  std::string deep = "runbook: deep\nsteps: ";
  for (int i = 0; i < 5000; ++i) deep += "[";
  LoadResult r = LoadRunbookText(deep, "deep.yaml", "/tmp");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace runbook
