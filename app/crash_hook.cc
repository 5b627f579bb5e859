#include "app/crash_hook.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "engine/environment.h"

namespace runbook {

CrashHookSink::CrashHookSink(AuditSink& inner, [[maybe_unused]] const Environment& env)
    : inner_(inner) {
#ifdef RUNBOOK_TEST_HOOKS
  if (auto k = env.GetEnv("RUNBOOK_TEST_CRASH_AFTER_EVENT"); k && !k->empty())
    crash_after_ = std::strtol(k->c_str(), nullptr, 10);
#endif
}

Status CrashHookSink::Written(Status s) {
  if (s.ok() && crash_after_ > 0 && ++written_ == crash_after_) ::kill(::getpid(), SIGKILL);
  return s;
}

Status CrashHookSink::BeginRun(const RunRecord& run) { return Written(inner_.BeginRun(run)); }

Status CrashHookSink::Append(const std::string& run_id, const AuditEvent& event) {
  return Written(inner_.Append(run_id, event));
}

Status CrashHookSink::Queue(const std::string& run_id, const AuditEvent& event) {
  return Written(inner_.Queue(run_id, event));
}

Status CrashHookSink::EndRun(const std::string& run_id, const std::string& state, int exit_code,
                             std::chrono::system_clock::time_point finished_at) {
  return Written(inner_.EndRun(run_id, state, exit_code, finished_at));
}

}  // namespace runbook
