// validate, plan, graph, schema: the commands that read a runbook without running it.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/atomic_file.h"
#include "app/bound_files.h"
#include "app/change_request.h"
#include "app/plans.h"
#include "app/signer.h"
#include "cli/commands.h"
#include "engine/schema.h"
#include "engine/state_machine.h"

namespace runbook::cli {

int Validate(const GlobalOptions&, const std::vector<std::string>& files) {
  int code = kExitOk;
  for (const std::string& f : files) {
    LoadedRunbook loaded = LoadRunbook(f);
    if (!ReportLoad(loaded)) {
      code = kExitInvalid;
      continue;
    }
    const Runbook& rb = *loaded.runbook;
    if (std::vector<std::string> missing = InputErrors(rb); !missing.empty()) {
      for (const std::string& e : missing)
        std::fprintf(stderr, "%s: error: %s\n", f.c_str(), e.c_str());
      code = kExitInvalid;
      continue;
    }
    StateMachine m = StateMachine::Compile(rb);
    std::printf("%s: ok (%zu prechecks, %zu steps, %zu checks; %zu states)\n", f.c_str(),
                rb.prechecks.size(), rb.steps.size(), rb.verify.size(), m.states().size());
  }
  return code;
}

int Plan(const GlobalOptions& global, const PlanOptions& options) {
  // A template that cannot be used is refused before a plan is stored.
  std::optional<DocumentTemplate> custom;
  if (!options.template_file.empty()) {
    auto read = ReadTemplateFile(options.template_file);
    if (!read.ok()) return Fail(read.status());
    custom = std::move(read.value());
  }
  LoadedRunbook loaded = LoadRunbookWithParams(options.file, options.params);
  if (!ReportLoad(loaded)) return kExitInvalid;
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  PlanService plans(*db, *signer, SystemEnv());
  auto made = plans.Make(*loaded.runbook, loaded.params, OperatorName(options.as, SystemEnv()));
  if (!made.ok()) {
    PrintError(made.message());
    return kExitInvalid;
  }
  std::string text;
  if (options.json) {
    text = made->document.dump(2) + "\n";
  } else {
    auto rendered = RenderChangeRequest(made->document, custom);
    if (!rendered.ok()) return Fail(rendered.status());
    text = std::move(rendered.value());
  }
  if (!options.out.empty()) {
    if (Status s = WriteFileAtomically(options.out, text); !s.ok()) {
      PrintError("cannot write " + options.out + ": " + s.message());
      return kExitInvalid;
    }
  }
  std::fputs(text.c_str(), stdout);
  for (const std::string& problem : made->notification_problems)
    std::fprintf(stderr, "warning: %s\n", problem.c_str());
  if (!options.json && loaded.runbook->approval)
    std::printf("\nNext: approvers run `runbook approve %s --as NAME`; then `runbook run %s "
                "--plan %s` with the same params.\n",
                made->record.plan_id.c_str(), options.file.c_str(),
                made->record.plan_id.c_str());
  return kExitOk;
}

int Graph(const GlobalOptions&, const std::string& file, const std::string& format) {
  LoadedRunbook loaded = LoadRunbook(file);
  if (!ReportLoad(loaded)) return kExitInvalid;
  StateMachine m = StateMachine::Compile(*loaded.runbook);
  if (format == "dot") {
    std::fputs(ToDot(m, loaded.runbook->name).c_str(), stdout);
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

void AddRunbookCommands(CLI::App& app, GlobalOptions& global, RunbookCommandArgs& args, int& code) {
  CLI::App* validate =
      Command(app, "validate", "parse, check and compile runbooks (exit 2 if invalid)");
  validate->add_option("FILE", args.validate_files, "runbook files")->required();
  AddAuditDbOption(validate, &global);
  validate->callback([&global, &args, &code] { code = Validate(global, args.validate_files); });

  PlanOptions& plan = args.plan;
  CLI::App* plan_cmd = Command(app, "plan", "print and store the change request for a run");
  plan_cmd->add_option("FILE", plan.file, "runbook file")->required();
  plan_cmd->add_option("-p,--param", plan.params, "a param as NAME=VALUE (repeatable)");
  plan_cmd->add_option("--as", plan.as, "who requests the change (default: login name)");
  plan_cmd->add_option("--out", plan.out, "also write the plan to this file");
  plan_cmd->add_flag("--json", plan.json, "print the plan as JSON");
  plan_cmd->add_option("--template", plan.template_file,
                       "render the change request through this Mustache template instead of "
                       "the built-in one (docs/templates.md)");
  AddAuditDbOption(plan_cmd, &global);
  plan_cmd->callback([&global, &args, &code] { code = Plan(global, args.plan); });

  CLI::App* graph = Command(app, "graph", "print the compiled state machine");
  graph->add_option("FILE", args.graph_file, "runbook file")->required();
  graph->add_option("--format", args.graph_format, "dot or mermaid (default dot)");
  AddAuditDbOption(graph, &global);
  graph->callback(
      [&global, &args, &code] { code = Graph(global, args.graph_file, args.graph_format); });

  CLI::App* schema = Command(app, "schema", "print the JSON Schema of the runbook format");
  schema->callback([&code] { code = Schema(); });
}

}  // namespace runbook::cli
