// runs, replay, audit verify, audit export: the commands that read the audit log.
#include <cstdio>

#include "audit/audit_format.h"
#include "audit/replay_check.h"
#include "cli/commands.h"

namespace runbook::cli {

int Runs(const GlobalOptions& global, bool json) {
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
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
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto run = store->GetRun(run_id);
  if (!run.ok()) {
    PrintError(run.message() + " (see `runbook runs` for the recorded runs)");
    return kExitInvalid;
  }
  auto events = store->Events(run_id);
  if (!events.ok()) {
    PrintError(events.message());
    return kExitInvalid;
  }
  std::vector<std::string> problems;
  if (verify) {
    problems = CheckReplay(*run, *events);
    auto chain = store->Verify();
    if (!chain.ok()) {
      problems.push_back(chain.message());
    } else if (!chain->ok) {
      problems.push_back("hash chain: " + chain->problem);
    }
  }
  if (json) {
    nlohmann::ordered_json out = ReplayJson(*run, *events);
    if (verify) {
      out["verified"] = problems.empty();
      out["divergences"] = problems;
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(ReplayText(*run, *events).c_str(), stdout);
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

int AuditVerify(const GlobalOptions& global, bool json) {
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
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
    std::fputs(VerifyText(*report, AuditDbPath(global)).c_str(), report->ok ? stdout : stderr);
  }
  return report->ok ? kExitOk : kExitTampered;
}

int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format) {
  if (format != "jsonl") {
    PrintError("--format takes jsonl, got '" + format + "'");
    return kExitInvalid;
  }
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  if (!run_id.empty()) {
    if (auto run = store->GetRun(run_id); !run.ok()) {
      PrintError(run.message() + " (see `runbook runs` for the recorded runs)");
      return kExitInvalid;
    }
  }
  auto events = run_id.empty() ? store->Events() : store->Events(run_id);
  if (!events.ok()) {
    PrintError(events.message());
    return kExitInvalid;
  }
  std::fputs(ExportJsonl(*events).c_str(), stdout);
  return kExitOk;
}

}  // namespace runbook::cli
