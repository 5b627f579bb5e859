// runs, replay, report, audit verify, audit export: the commands that read the audit log
// (app/history.h).
#include <cstdio>
#include <filesystem>

#include "app/atomic_file.h"
#include "app/history.h"
#include "audit/audit_format.h"
#include "cli/commands.h"

namespace runbook::cli {

int Runs(const GlobalOptions& global, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> store = OpenStore(global, &code);
  if (!store) return code;
  auto runs = store->ListRuns();
  if (!runs.ok()) {
    PrintError(runs.message());
    return kExitInvalid;
  }
  if (json) {
    std::printf("%s\n", RunsJson(*runs).dump(2).c_str());
  } else {
    std::fputs(RunsText(*runs).c_str(), stdout);
  }
  return kExitOk;
}

int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> store = OpenStore(global, &code);
  if (!store) return code;
  auto view = ReplayRun(*store, run_id, verify);
  if (!view.ok()) {
    PrintError(view.message());
    return kExitInvalid;
  }
  const std::vector<std::string>& problems = view->divergences;
  if (json) {
    nlohmann::ordered_json out = ReplayJson(view->run, view->events);
    if (verify) {
      out["verified"] = problems.empty();
      out["divergences"] = problems;
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(ReplayText(view->run, view->events).c_str(), stdout);
    if (verify) {
      if (problems.empty()) {
        std::printf("verify: the recorded transitions are exactly what the runbook and the "
                    "recorded step results lead to\n");
      } else {
        for (const auto& p : problems) std::printf("verify: DIVERGENCE: %s\n", p.c_str());
      }
    }
  }
  return problems.empty() ? kExitOk : kExitTampered;
}

int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out,
           const std::string& template_file) {
  if (out.empty()) return Fail(Status::Invalid("--out needs a file name, e.g. --out report.html"));
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec))
    return Fail(Status::Invalid("--out " + out + " is a folder; give a file name, e.g. --out " +
                                (std::filesystem::path(out) / (run_id + ".html")).string()));
  std::optional<DocumentTemplate> custom;
  if (!template_file.empty()) {
    auto read = ReadTemplateFile(template_file);
    if (!read.ok()) return Fail(read.status());
    custom = std::move(read.value());
  }
  int code = kExitOk;
  std::unique_ptr<AuditStore> store = OpenStore(global, &code);
  if (!store) return code;
  StoredRun run;
  auto html = RenderRunReport(*store, run_id, custom, &run);
  if (!html.ok()) {
    PrintError(html.message());
    return kExitInvalid;
  }
  if (Status s = WriteFileAtomically(out, *html); !s.ok()) {
    PrintError("cannot write the report: " + s.message());
    return kExitInvalid;
  }
  std::printf("wrote the post-mortem report of run %s (%s, %s) to %s\n", run_id.c_str(),
              run.runbook.c_str(), run.state.empty() ? "unfinished" : run.state.c_str(),
              out.c_str());
  return kExitOk;
}

int AuditVerify(const GlobalOptions& global, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> store = OpenStore(global, &code);
  if (!store) return code;
  auto report = store->Verify();
  if (!report.ok()) {
    PrintError(report.message());
    return kExitTampered;
  }
  if (json) {
    std::printf("%s\n", nlohmann::json({{"ok", report->ok},
                                        {"events_checked", report->events_checked},
                                        {"bad_seq", report->bad_seq},
                                        {"problem", report->problem},
                                        {"head_seq", report->head_seq},
                                        {"head_hash", report->head_hash}})
                            .dump(2)
                            .c_str());
  } else {
    std::fputs(VerifyText(*report, AuditDbPath(global.audit_db)).c_str(),
               report->ok ? stdout : stderr);
  }
  return report->ok ? kExitOk : kExitTampered;
}

int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format) {
  if (format != "jsonl") return Fail(Status::Invalid("--format takes jsonl, got '" + format + "'"));
  int code = kExitOk;
  std::unique_ptr<AuditStore> store = OpenStore(global, &code);
  if (!store) return code;
  auto events =
      ExportEvents(*store, run_id.empty() ? std::nullopt : std::optional<std::string>(run_id));
  if (!events.ok()) {
    PrintError(events.message());
    return kExitInvalid;
  }
  std::fputs(ExportJsonl(*events).c_str(), stdout);
  return kExitOk;
}

}  // namespace runbook::cli
