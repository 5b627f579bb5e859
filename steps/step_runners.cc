#include "steps/step_runners.h"

#include <array>
#include <filesystem>
#include <utility>

#include "engine/events.h"

namespace runbook {
namespace {

class DispatchingRunner : public StepRunner {
 public:
  explicit DispatchingRunner(const StepRunnerOptions& options)
      : runners_{MakeShellRunner(), MakeSshRunner(), MakeKubectlRunner(options.restore_dir),
                 MakeHttpRunner()} {}

  StepResult Run(const StepRequest& request, StepContext& context) override {
    return runners_[static_cast<size_t>(KindOf(request.step->action))]->Run(request, context);
  }
  bool CommitsBeforeActing(const StepSpec& step) const override {
    return runners_[static_cast<size_t>(KindOf(step.action))]->CommitsBeforeActing(step);
  }

 private:
  // Indexed by ActionKind.
  std::array<std::unique_ptr<StepRunner>, 4> runners_;
};

}  // namespace

std::unique_ptr<StepRunner> MakeStepRunner(const StepRunnerOptions& options) {
  return std::make_unique<DispatchingRunner>(options);
}

std::string RunRestoreDir(const std::string& restore_dir, const std::string& run_id) {
  return restore_dir.empty() ? "" : restore_dir + "/" + run_id;
}

std::string ForgetKeptObjects(const std::string& restore_dir, const RunSummary& summary) {
  const std::string dir = RunRestoreDir(restore_dir, summary.run_id);
  std::error_code ec;
  if (dir.empty() || summary.run_id.empty() || !std::filesystem::exists(dir, ec)) return "";
  const std::string& state = summary.state;
  if (state == "succeeded" || state == "rolled_back" || state == "aborted") {
    std::filesystem::remove_all(dir, ec);
    return ec ? dir : "";
  }
  return dir;
}

ProcessStartCallback RecordProcessStarted(StepContext& context, Phase phase,
                                          std::optional<std::string> command) {
  return [&context, phase, command = std::move(command)](const ProcessIdentity& child, pid_t pgid) {
    Status recorded = context.Record(EventKind::kProcessStarted,
                                     ProcessStartedDetail{.pid = child.pid,
                                                          .pgid = pgid,
                                                          .boot_id = child.boot_id,
                                                          .start_time = child.start_time,
                                                          .command = command});
    if (!recorded.ok() && phase == Phase::kRollback) return Status::Ok();
    return recorded;
  };
}

}  // namespace runbook
