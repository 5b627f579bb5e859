// Starts a child for RunProcess (steps/process.h) in two halves, so that the caller can record
// the child in between: Spawn() forks a child that leads its own process group and waits at a
// gate before exec; Release() lets it exec and says whether it could. Closing the gate instead
// (or dying) ends the child without running anything. Internal to steps/process.cc.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "engine/status.h"
#include "steps/process.h"

namespace runbook {

/// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A child that has been forked and waits at its gate for Release().
struct Spawned {
  pid_t pid = -1;
  UniqueFd out;
  UniqueFd err;
  UniqueFd gate;         // our end: one byte lets the child exec, closing it ends the child
  UniqueFd exec_report;  // EOF once the child has exec'd; an errno if exec failed
};

/// Forks the child of `spec` (program looked up, cwd checked, environment built) and returns
/// once it waits at its gate, or an error when it could not be started.
Result<Spawned> Spawn(const ProcessSpec& spec);

/// Lets the child waiting at its gate exec, and waits until it has: ok once it runs the
/// command, else why it could not (`program` names it in the message). Closes the gate.
Status Release(Spawned& spawned, const std::string& program);

}  // namespace runbook
