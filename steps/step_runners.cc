#include "steps/step_runners.h"

#include <array>
#include <utility>

#include "engine/events.h"

namespace runbook {
namespace {

class DispatchingRunner : public StepRunner {
 public:
  DispatchingRunner()
      : runners_{MakeShellRunner(), MakeSshRunner(), MakeKubectlRunner(), MakeHttpRunner()} {}

  StepResult Run(const StepRequest& request, StepContext& context) override {
    return runners_[static_cast<size_t>(KindOf(request.step->action))]->Run(request, context);
  }

 private:
  // Indexed by ActionKind.
  std::array<std::unique_ptr<StepRunner>, 4> runners_;
};

}  // namespace

std::unique_ptr<StepRunner> MakeStepRunner() { return std::make_unique<DispatchingRunner>(); }

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
