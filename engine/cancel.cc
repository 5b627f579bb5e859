#include "engine/cancel.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>

namespace runbook {

CancelFlag::CancelFlag() {
  if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) fds_[0] = fds_[1] = -1;
}

CancelFlag::~CancelFlag() {
  for (int fd : fds_)
    if (fd >= 0) close(fd);
}

void CancelFlag::Cancel() {
  if (cancelled_.exchange(true)) return;
  if (fds_[1] >= 0) {
    const char byte = 1;
    // Async-signal-safe; the byte stays in the pipe so fd() remains readable for every poller.
    [[maybe_unused]] ssize_t n = write(fds_[1], &byte, 1);
  }
}

void CancelFlag::Cancel(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reason_.empty() && !cancelled()) reason_ = reason;
  }
  Cancel();
}

std::string CancelFlag::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

bool CancelFlag::SleepFor(long ms) const {
  if (cancelled()) return false;
  if (ms <= 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return !cancelled();
    pollfd p{fds_[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0 || cancelled()) return false;  // r < 0 is EINTR: a signal; look again
  }
}

}  // namespace runbook
