#include "steps/step_runners.h"

#include <array>

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

}  // namespace runbook
