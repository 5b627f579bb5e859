// validate, plan, graph, schema: the commands that read a runbook without running it.
#include <openssl/rand.h>

#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/schema.h"
#include "engine/state_machine.h"
#include "steps/kubectl_command.h"

namespace runbook::cli {

int Validate(const GlobalOptions&, const std::vector<std::string>& files) {
  int code = kExitOk;
  for (const std::string& f : files) {
    std::unique_ptr<Runbook> rb = LoadOrReport(f);
    if (!rb) {
      code = kExitInvalid;
      continue;
    }
    StateMachine m = StateMachine::Compile(*rb);
    std::printf("%s: ok (%zu prechecks, %zu steps, %zu checks; %zu states)\n", f.c_str(),
                rb->prechecks.size(), rb->steps.size(), rb->verify.size(), m.states().size());
  }
  return code;
}

namespace {

std::string NewPlanId(const std::string& hash) {
  unsigned char r[4];
  if (RAND_bytes(r, sizeof r) != 1) r[0] = r[1] = r[2] = r[3] = 0;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
  return "plan-" + hash.substr(0, 8) + "-" + suffix;
}

}  // namespace

int Plan(const GlobalOptions& global, const PlanOptions& options) {
  std::map<std::string, std::string> params;
  std::unique_ptr<Runbook> rb = LoadWithParams(options.file, options.params, &params);
  if (!rb) return kExitInvalid;
  StateMachine machine = StateMachine::Compile(*rb);
  nlohmann::json plan = BuildPlan(*rb, machine, params, [](const KubeTarget& target) {
    auto endpoint = ResolveKubeTarget(target);
    if (!endpoint.ok()) return "unresolved: " + endpoint.message();
    return endpoint->context + " (namespace " + endpoint->namespace_ + ", server " +
           endpoint->server + ")";
  });
  const std::string hash = plan["hash"];
  plan["plan_id"] = NewPlanId(hash);
  plan["requested_by"] = OperatorName(options.as);

  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  PlanRecord record;
  record.plan_id = plan["plan_id"];
  record.hash = hash;
  record.runbook = rb->name;
  record.runbook_path = Executor::AbsolutePath(*rb);
  record.runbook_text = rb->text;
  record.params = nlohmann::json(params);
  record.requested_by = plan["requested_by"];
  record.status = "pending";
  record.document = plan;
  if (Status s = store->SavePlan(record); !s.ok()) {
    PrintError("cannot store the plan: " + s.message());
    return kExitInvalid;
  }
  plan["status"] = "pending";
  const std::string text = options.json ? plan.dump(2) + "\n" : RenderPlanText(plan);
  if (!options.out.empty()) {
    std::ofstream out(options.out);
    out << text;
    if (!out) {
      PrintError("cannot write " + options.out);
      return kExitInvalid;
    }
  }
  std::fputs(text.c_str(), stdout);
  if (!options.json && rb->approval)
    std::printf("\nNext: approvers run `runbook approve %s --as NAME`; then `runbook run %s "
                "--plan %s` with the same params.\n",
                record.plan_id.c_str(), options.file.c_str(), record.plan_id.c_str());
  return kExitOk;
}

int Graph(const GlobalOptions&, const std::string& file, const std::string& format) {
  std::unique_ptr<Runbook> rb = LoadOrReport(file);
  if (!rb) return kExitInvalid;
  StateMachine m = StateMachine::Compile(*rb);
  if (format == "dot") {
    std::fputs(ToDot(m, rb->name).c_str(), stdout);
  } else if (format == "mermaid") {
    std::fputs(ToMermaid(m).c_str(), stdout);
  } else {
    PrintError("--format takes dot or mermaid, got '" + format + "'");
    return kExitInvalid;
  }
  return kExitOk;
}

int Schema() {
  std::fputs(RunbookJsonSchema().c_str(), stdout);
  std::fputs("\n", stdout);
  return kExitOk;
}

}  // namespace runbook::cli
