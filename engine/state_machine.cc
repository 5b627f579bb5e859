#include "engine/state_machine.h"

#include <map>
#include <sstream>
#include <utility>

#include "engine/template.h"

namespace runbook {

const char* TriggerName(Trigger trigger) {
  switch (trigger) {
    case Trigger::kStart: return "start";
    case Trigger::kSuccess: return "success";
    case Trigger::kFailure: return "failure";
    case Trigger::kInterrupt: return "interrupt";
  }
  return "?";
}

bool State::terminal() const {
  switch (kind) {
    case StateKind::kSucceeded:
    case StateKind::kAborted:
    case StateKind::kRolledBack:
    case StateKind::kRollbackFailed:
      return true;
    case StateKind::kPending:
    case StateKind::kPrecheck:
    case StateKind::kStep:
    case StateKind::kVerify:
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback:
    case StateKind::kRollbackDone:
      return false;
  }
  return false;
}

const char* State::coarse() const {
  switch (kind) {
    case StateKind::kPending: return "pending";
    case StateKind::kPrecheck: return "prechecks";
    case StateKind::kStep: return "steps";
    case StateKind::kVerify: return "verify";
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback:
    case StateKind::kRollbackDone: return "rolling_back";
    case StateKind::kSucceeded: return "succeeded";
    case StateKind::kAborted: return "aborted";
    case StateKind::kRolledBack: return "rolled_back";
    case StateKind::kRollbackFailed: return "rollback_failed";
  }
  return "?";
}

const char* State::phase() const {
  switch (kind) {
    case StateKind::kPrecheck: return "precheck";
    case StateKind::kStep: return "step";
    case StateKind::kVerify: return "verify";
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback: return "rollback";
    case StateKind::kPending:
    case StateKind::kRollbackDone:
    case StateKind::kSucceeded:
    case StateKind::kAborted:
    case StateKind::kRolledBack:
    case StateKind::kRollbackFailed: return "run";
  }
  return "run";
}

static_assert(static_cast<int>(Trigger::kInterrupt) == 3, "next_ has one entry per Trigger");

int StateMachine::Add(StateKind kind, std::string name, const StepSpec* step) {
  State s;
  s.id = static_cast<int>(states_.size());
  s.kind = kind;
  s.name = std::move(name);
  s.step = step;
  states_.push_back(std::move(s));
  next_.push_back({-1, -1, -1, -1});
  return states_.back().id;
}

void StateMachine::Edge(int from, Trigger on, int to) {
  int& next = next_[from][static_cast<size_t>(on)];
  if (next < 0) next = to;
  transitions_.push_back({from, on, to});
}

int StateMachine::Next(int from, Trigger trigger) const {
  if (from < 0 || from >= static_cast<int>(next_.size())) return -1;
  return next_[from][static_cast<size_t>(trigger)];
}

int StateMachine::Find(const std::string& name) const {
  for (const State& s : states_)
    if (s.name == name) return s.id;
  return -1;
}

bool HasEarlyDryRun(const StepSpec& step) {
  const auto* kube = std::get_if<KubectlAction>(&step.action);
  if (kube == nullptr || kube->apply.empty()) return false;
  Template path;
  TemplateError error;
  if (!ParseTemplate(kube->apply, Quoting::kNone, &path, &error)) return false;
  for (const Template::Piece& piece : path.pieces) {
    if (!piece.is_ref) continue;
    switch (piece.ref.kind) {
      case TemplateRef::Kind::kStepStdout:
      case TemplateRef::Kind::kStepStderr:
      case TemplateRef::Kind::kStepOutput:
        return false;
      case TemplateRef::Kind::kParam:
      case TemplateRef::Kind::kSecret:
      case TemplateRef::Kind::kRunId:
      case TemplateRef::Kind::kEnv:
        break;
    }
  }
  return true;
}

StateMachine StateMachine::Compile(const Runbook& rb) {
  StateMachine m;
  // Room for every state but the rare early dry runs, and their edges (at most three each).
  size_t states = 6 + rb.prechecks.size() + rb.steps.size() + rb.verify.size() + rb.rollback.size();
  for (const StepSpec& s : rb.steps) {
    states += s.rollback.actions.size() + (s.rollback.kind == RollbackSpec::Kind::kAuto ? 1 : 0);
  }
  m.states_.reserve(states);
  m.next_.reserve(states);
  m.transitions_.reserve(3 * states);
  const int pending = m.Add(StateKind::kPending, "pending");
  const int succeeded = m.Add(StateKind::kSucceeded, "succeeded");
  const int aborted = m.Add(StateKind::kAborted, "aborted");
  const int rolled_back = m.Add(StateKind::kRolledBack, "rolled_back");
  const int rollback_failed = m.Add(StateKind::kRollbackFailed, "rollback_failed");

  std::vector<int> forward;  // prechecks, steps, verify in order
  std::vector<int> prechecks, steps, verify;
  for (const StepSpec& s : rb.prechecks)
    prechecks.push_back(m.Add(StateKind::kPrecheck, "precheck:" + s.id, &s));
  for (const StepSpec& s : rb.steps) {
    if (!HasEarlyDryRun(s)) continue;
    const int id = m.Add(StateKind::kPrecheck, "precheck:dry-run:" + s.id, &s);
    m.states_[id].early_dry_run = true;
    prechecks.push_back(id);
  }
  for (const StepSpec& s : rb.steps) steps.push_back(m.Add(StateKind::kStep, "step:" + s.id, &s));
  for (const StepSpec& s : rb.verify)
    verify.push_back(m.Add(StateKind::kVerify, "verify:" + s.id, &s));
  forward.insert(forward.end(), prechecks.begin(), prechecks.end());
  forward.insert(forward.end(), steps.begin(), steps.end());
  forward.insert(forward.end(), verify.begin(), verify.end());

  // The rollback chain, last step first, then the global list, then rollback_done.
  std::vector<int> chain;
  std::vector<int> entry_of_step(rb.steps.size(), -1);  // index into chain
  for (size_t i = rb.steps.size(); i-- > 0;) {
    const StepSpec& s = rb.steps[i];
    const size_t first = chain.size();
    switch (s.rollback.kind) {
      case RollbackSpec::Kind::kActions:
        for (size_t a = 0; a < s.rollback.actions.size(); ++a) {
          int id = m.Add(StateKind::kStepRollback,
                         "rollback:" + s.id + ":" + std::to_string(a + 1), &s.rollback.actions[a]);
          m.states_[id].undoes = &s;
          chain.push_back(id);
        }
        break;
      case RollbackSpec::Kind::kAuto: {
        int id = m.Add(StateKind::kStepRollback, "rollback:" + s.id + ":auto", &s);
        m.states_[id].undoes = &s;
        m.states_[id].auto_rollback = true;
        chain.push_back(id);
        break;
      }
      case RollbackSpec::Kind::kNone:
      case RollbackSpec::Kind::kUnset:
        break;
    }
    if (chain.size() > first) entry_of_step[i] = static_cast<int>(first);
  }
  const size_t globals_begin = chain.size();
  for (const StepSpec& s : rb.rollback)
    chain.push_back(m.Add(StateKind::kGlobalRollback, "global_rollback:" + s.id, &s));
  const int done = m.Add(StateKind::kRollbackDone, "rollback_done");
  chain.push_back(done);

  // Where the chain is entered when step `i` (or, for i = steps.size(), verification) fails:
  // the nearest step at or before it that has a rollback, else the global list.
  // nearest[i]: that chain index for step i, computed in one pass (runbooks can be large).
  std::vector<size_t> nearest(rb.steps.size() + 1, globals_begin);
  for (size_t i = 0; i < rb.steps.size(); ++i) {
    const size_t before = i == 0 ? globals_begin : nearest[i - 1];
    nearest[i] = entry_of_step[i] >= 0 ? static_cast<size_t>(entry_of_step[i]) : before;
  }
  if (!rb.steps.empty()) nearest[rb.steps.size()] = nearest[rb.steps.size() - 1];
  auto entry = [&](size_t i) { return chain[nearest[std::min(i, rb.steps.size())]]; };

  m.Edge(pending, Trigger::kStart, forward.empty() ? succeeded : forward[0]);
  m.Edge(pending, Trigger::kInterrupt, aborted);  // interrupted before anything ran
  for (size_t k = 0; k < forward.size(); ++k) {
    const int next = k + 1 < forward.size() ? forward[k + 1] : succeeded;
    const int id = forward[k];
    m.Edge(id, Trigger::kSuccess, next);
    int on_fail;
    if (k < prechecks.size()) {
      on_fail = aborted;
    } else if (k < prechecks.size() + steps.size()) {
      on_fail = entry(k - prechecks.size());
    } else {
      on_fail = entry(rb.steps.size());
    }
    m.Edge(id, Trigger::kFailure, on_fail);
    m.Edge(id, Trigger::kInterrupt, on_fail);
  }
  for (size_t c = 0; c + 1 < chain.size(); ++c) {
    m.Edge(chain[c], Trigger::kSuccess, chain[c + 1]);
    m.Edge(chain[c], Trigger::kFailure, chain[c + 1]);
  }
  m.Edge(done, Trigger::kSuccess, rolled_back);
  m.Edge(done, Trigger::kFailure, rollback_failed);
  return m;
}

namespace {

// Edges between the same two states, with their triggers joined: "failure|interrupt".
std::vector<std::pair<std::pair<int, int>, std::string>> MergedEdges(const StateMachine& m) {
  std::vector<std::pair<std::pair<int, int>, std::string>> edges;
  std::map<std::pair<int, int>, size_t> index;
  for (const Transition& t : m.transitions()) {
    auto key = std::make_pair(t.from, t.to);
    auto it = index.find(key);
    if (it == index.end()) {
      index[key] = edges.size();
      edges.push_back({key, TriggerName(t.on)});
    } else {
      edges[it->second].second += std::string("|") + TriggerName(t.on);
    }
  }
  return edges;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string ToDot(const StateMachine& m, const std::string& title) {
  std::ostringstream o;
  o << "digraph \"" << Escape(title) << "\" {\n  rankdir=TB;\n  node [shape=box, style=rounded];\n";
  for (const State& s : m.states()) {
    o << "  s" << s.id << " [label=\"" << Escape(s.name) << "\"";
    if (s.terminal()) o << ", shape=doublecircle";
    if (s.kind == StateKind::kStepRollback || s.kind == StateKind::kGlobalRollback)
      o << ", color=orange";
    o << "];\n";
  }
  for (const auto& [e, label] : MergedEdges(m))
    o << "  s" << e.first << " -> s" << e.second << " [label=\"" << label << "\"];\n";
  o << "}\n";
  return o.str();
}

std::string ToMermaid(const StateMachine& m) {
  std::ostringstream o;
  o << "stateDiagram-v2\n";
  for (const State& s : m.states()) o << "  state \"" << s.name << "\" as s" << s.id << "\n";
  o << "  [*] --> s" << m.pending() << "\n";
  for (const auto& [e, label] : MergedEdges(m))
    o << "  s" << e.first << " --> s" << e.second << " : " << label << "\n";
  for (const State& s : m.states())
    if (s.terminal()) o << "  s" << s.id << " --> [*]\n";
  return o.str();
}

}  // namespace runbook
