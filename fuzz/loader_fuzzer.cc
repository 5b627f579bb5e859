// Feeds: arbitrary bytes as the text of a runbook file to the loader (LoadRunbookText: YAML,
// the typed model, the validator's checks of every field, template and step reference), then
// gives each runbook it accepts to the compiler (StateMachine::Compile) and builds what
// `runbook plan` and `runbook graph` show of it (BindParams, BuildPlan, PlanHash, ToDot,
// ToMermaid), with the runbook's files left unread (as for a runbook stored in the log).
//
// Checks, beyond "does not crash, hang or leak": a rejected text has at least one error, and
// every diagnostic names the file; an accepted one compiles to a machine whose states are
// each found by name, whose edges stay in range, whose non-terminal states have their edges
// and terminal states none; the plan is JSON that `plan --json` can print.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "engine/loader.h"
#include "engine/plan.h"
#include "engine/state_machine.h"
#include "fuzz/fuzz_check.h"

namespace runbook {
namespace {

void CheckMachine(const StateMachine& m) {
  const int count = static_cast<int>(m.states().size());
  FUZZ_CHECK(count > 0 && m.state(m.pending()).kind == StateKind::kPending);
  for (const State& s : m.states()) {
    FUZZ_CHECK(m.Find(s.name) == s.id);
    bool edges[4] = {};
    for (int t = 0; t < 4; ++t) {
      const int next = m.Next(s.id, static_cast<Trigger>(t));
      FUZZ_CHECK(next >= -1 && next < count);
      edges[t] = next >= 0;
    }
    const bool success = edges[static_cast<int>(Trigger::kSuccess)];
    const bool failure = edges[static_cast<int>(Trigger::kFailure)];
    const bool interrupt = edges[static_cast<int>(Trigger::kInterrupt)];
    switch (s.kind) {
      case StateKind::kPending:
        FUZZ_CHECK(edges[static_cast<int>(Trigger::kStart)] && interrupt);
        break;
      case StateKind::kPrecheck:
      case StateKind::kStep:
      case StateKind::kVerify:
        FUZZ_CHECK(success && failure && interrupt && s.step != nullptr);
        break;
      case StateKind::kStepRollback:
      case StateKind::kGlobalRollback:
      case StateKind::kRollbackDone:
        FUZZ_CHECK(success && failure);
        break;
      case StateKind::kSucceeded:
      case StateKind::kAborted:
      case StateKind::kRolledBack:
      case StateKind::kRollbackFailed:
        FUZZ_CHECK(!edges[0] && !edges[1] && !edges[2] && !edges[3]);
        break;
    }
  }
  for (const Transition& t : m.transitions()) {
    FUZZ_CHECK(t.from >= 0 && t.from < count && t.to >= 0 && t.to < count);
  }
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  LoadResult loaded = LoadRunbookText(std::string(reinterpret_cast<const char*>(data), size),
                                      "fuzz.yaml", "/nonexistent/fuzz");
  if (!loaded.ok()) {
    bool has_error = false;
    for (const Diagnostic& d : loaded.diagnostics) {
      has_error |= d.severity == Diagnostic::Severity::kError;
      FUZZ_CHECK(d.ToString().rfind("fuzz.yaml", 0) == 0);
    }
    FUZZ_CHECK(has_error);
    return 0;
  }
  const Runbook& rb = *loaded.runbook;
  StateMachine machine = StateMachine::Compile(rb);
  CheckMachine(machine);

  // Required params without a default get a value, as `-p` would give them; one their
  // pattern refuses is an error of BindParams, and the plan is then made from the defaults.
  std::map<std::string, std::string> given;
  for (const ParamSpec& p : rb.params) {
    if (!p.default_value) given[p.name] = "1";
  }
  Result<std::map<std::string, std::string>> params = BindParams(rb, given);
  const std::map<std::string, std::string> bound = params.ok() ? *params : given;
  FUZZ_CHECK(!BuildPlan(rb, machine, bound).dump(2).empty());
  FUZZ_CHECK(PlanHash(rb, bound, {}).size() == 64);
  FUZZ_CHECK(!ToDot(machine, rb.name).empty());
  FUZZ_CHECK(!ToMermaid(machine).empty());
  return 0;
}
