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

TEST(LoaderRobustnessTest, DeepNestingIsRejectedNotOverflowed) {
  std::string deep = "runbook: deep\nsteps: ";
  for (int i = 0; i < 5000; ++i) deep += "[";
  LoadResult r = LoadRunbookText(deep, "deep.yaml", "/tmp");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace runbook
