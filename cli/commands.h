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
int Replay(const GlobalOptions& global, const std::string& run_id, bool json, bool verify);
int AuditVerify(const GlobalOptions& global, bool json);
int AuditExport(const GlobalOptions& global, const std::string& run_id, const std::string& format);

}  // namespace runbook::cli
