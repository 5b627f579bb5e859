// One function per `runbook` command; main.cc parses the arguments into these option structs.
// Each returns the process exit code (SPEC §4).
#pragma once

#include <string>
#include <vector>

#include "cli/common.h"

namespace runbook::cli {

int Validate(const GlobalOptions& global, const std::vector<std::string>& files);

struct PlanOptions {
  std::string file;
  std::vector<std::string> params;
  std::string as;
  std::string out;
  bool json = false;
};
int Plan(const GlobalOptions& global, const PlanOptions& options);

int Graph(const GlobalOptions& global, const std::string& file, const std::string& format);
int Schema();

struct RunCommandOptions {
  std::string file;
  std::vector<std::string> params;
  std::string plan_id;
  std::string as;
  bool dry_run = false;
  bool json = false;
};
int Run(const GlobalOptions& global, const RunCommandOptions& options);

int Runs(const GlobalOptions& global, bool json);

/// `runbook recover`: finishes runs whose executor died (recover_command.cc).
int Recover(const GlobalOptions& global, bool json);

/// `runbook report RUN_ID --out F.html`: the post-mortem report (report_command.cc).
int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out);

// The change-request approval flow (approval_commands.cc).
int Plans(const GlobalOptions& global, bool json);
int PlansShow(const GlobalOptions& global, const std::string& plan_id, bool json);
int Approve(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
            const std::string& comment, const std::string& key);
int Reject(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
           const std::string& comment);
/// For `run --plan`: kExitOk when `plan_id` is approved for exactly this runbook text and
/// these params (and, when the runbook has an approval block, meets its policy); otherwise
/// prints why and returns kExitRefused.
int CheckApprovedPlan(AuditStore& store, const Runbook& runbook,
                      const std::map<std::string, std::string>& params,
                      const std::string& plan_id, const std::string& operator_name);
int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify);
int AuditVerify(const GlobalOptions& global, bool json);
int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format);

}  // namespace runbook::cli
