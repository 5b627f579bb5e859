// Starts a child for RunProcess (steps/process.h) in two halves, so that the caller can record
// the child in between: Spawn() starts a child that leads its own process group and waits at a
// gate before exec; Release() lets it exec and says whether it could. Closing the gate instead
// (or dying) ends the child without running anything. When the program waits at a gate of its
// own (ProcessSpec::waits_at_own_gate: a shell), Spawn() lets it exec at once, so that it
// starts up while the caller records it, and Release() opens its gate. Internal to
// steps/process.cc.
//
// The child is started with vfork semantics: clone(CLONE_VM) without copying our address space,
// so that starting it costs the same however much memory the executor holds (fork() copies the
// page tables, which grow with it). Unlike vfork() and posix_spawn(), which suspend the parent
// until the exec, the parent goes on while the child waits at its gate: that is when it records
// the child. Until the child has exec'd or exited it runs in our memory, on a stack of its own,
// reading arguments that SpawnedChild owns; SpawnedChild frees them only once the child has
// left our memory. docs/processes.md says why a child waits and what it inherits.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <memory>
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

/// A child that Spawn() started and that waits at its gate: it leads its own process group
/// (unless the spec runs it in the foreground), its signal dispositions are the defaults and
/// its signal mask is empty, only its stdin, stdout and stderr are open (and its end of the
/// gate), and it is in its working directory. Move-only; the caller reaps the child.
class SpawnedChild {
 public:
  SpawnedChild(SpawnedChild&&) noexcept;
  SpawnedChild& operator=(SpawnedChild&&) noexcept;
  SpawnedChild(const SpawnedChild&) = delete;
  SpawnedChild& operator=(const SpawnedChild&) = delete;
  /// Closes the gate if it is still open (the child then exits without running anything) and
  /// waits until the child has exec'd or exited, which is quick once the gate is closed: only
  /// then are its stack and arguments freed. Does not reap it.
  ~SpawnedChild();

  pid_t pid() const { return pid_; }
  /// The read ends of the child's stdout and stderr (once each).
  UniqueFd TakeStdout() { return std::move(out_); }
  UniqueFd TakeStderr() { return std::move(err_); }

  /// Lets the child exec and waits until it has: ok once it runs the command, else why it
  /// could not (`program` names it in the message). Closes the gate. When the program waits at
  /// its own gate, it has exec'd already: sends it the line it waits for, and is ok (if it
  /// ended by itself meanwhile, its exit status says how).
  Status Release(const std::string& program);
  /// Ends the child without running the command: it reads end-of-file at its gate and exits.
  void CloseGate();

 private:
  struct Launch;
  friend Result<SpawnedChild> Spawn(const ProcessSpec& spec);
  SpawnedChild(pid_t pid, UniqueFd out, UniqueFd err, std::unique_ptr<Launch> launch);

  pid_t pid_ = -1;
  UniqueFd out_;
  UniqueFd err_;
  std::unique_ptr<Launch> launch_;
};

/// Starts the child of `spec` (program looked up, cwd checked, environment built) and returns
/// once it waits at its gate (with waits_at_own_gate: once it has exec'd), or an error when it
/// could not be started or exec'd (then no child is left).
Result<SpawnedChild> Spawn(const ProcessSpec& spec);

/// strerror(err) as a string, for the messages of process.cc and process_spawn.cc.
std::string ErrnoText(int err);

}  // namespace runbook
