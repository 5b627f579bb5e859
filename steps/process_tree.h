// What /proc says about the processes a step started: who a process is beyond its pid (boot id
// and start time), whether a process group still lives, and the tree of a step's descendants,
// so that ending a step ends every process it started, also one that left the step's process
// group or session (setsid). Used by RunProcess (steps/process.h) and by `runbook recover`.
// Linux only: everything here reads /proc/PID/stat (pid, state, ppid, pgrp, starttime).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace runbook {

/// What identifies a process beyond its pid, which the kernel reuses: the boot it ran in and
/// when it started. Recorded in `process_started` so that `runbook recover` signals a process
/// group only when its leader is provably the process the dead executor started.
struct ProcessIdentity {
  pid_t pid = -1;
  /// /proc/sys/kernel/random/boot_id (a UUID, new at every boot); empty: unknown.
  std::string boot_id;
  /// Field 22 of /proc/PID/stat: clock ticks from boot to the process's start; 0: unknown.
  int64_t start_time = 0;

  bool operator==(const ProcessIdentity&) const = default;
};

/// This boot's id; empty when /proc cannot tell. Read once, then cached. Thread-safe.
const std::string& CurrentBootId();

/// The identity of process `pid` now: this boot's id and the process's start time (0 when the
/// process does not exist).
ProcessIdentity IdentifyProcess(pid_t pid);

/// Whether `recorded` is a process that still exists (a zombie counts: it still holds its pid)
/// in this boot with the recorded start time. False when the recorded boot id or start time is
/// unknown, when the machine has rebooted since, or when the pid now belongs to another process.
bool SameProcess(const ProcessIdentity& recorded);

/// Whether process group `pgid` still has a process that is not a zombie (an orphan killed
/// by our SIGTERM may stay a zombie until its new parent reaps it). Errs on the side of
/// "alive" when /proc cannot be read.
bool ProcessGroupAlive(pid_t pgid);

/// A step's processes: the process group its leader leads and every descendant of that leader
/// (found by following parent links in /proc), with the descendants' own process groups when a
/// descendant leads one. Each look at /proc finds descendants anew, from the leader, from the
/// group's members, from those found before (while they keep their start time: a reused pid is
/// never followed) and, with `adopt_orphans`, from this process's own children that started
/// after the leader: orphans re-parented to us because we are their child subreaper.
///
/// The caller must know that `leader` is the group's leader (it started it, or SameProcess
/// said so): the group itself is signalled as kill(-pid). Not thread-safe; one per step.
class ProcessTree {
 public:
  /// `adopt_orphans`: this process is a child subreaper and started `leader` itself. Orphans
  /// are adopted only while no other RunProcess call is running in this process, as another
  /// call's orphans could not be told apart.
  ProcessTree(const ProcessIdentity& leader, bool adopt_orphans);
  ProcessTree(const ProcessTree&) = delete;
  ProcessTree& operator=(const ProcessTree&) = delete;

  /// Sends SIGTERM, then SIGCONT (a stopped process would not act on SIGTERM until
  /// continued), to the group and to every descendant.
  void Terminate();
  /// Sends SIGKILL to the group and to every descendant.
  void Kill();
  /// Looks again: descendants found since the last signal get the signals sent so far. True
  /// when no live (non-zombie) process is left in the group or among the descendants.
  bool Ended();
  /// Reaps the descendants that were re-parented to us and have exited, by their pids (never
  /// waitpid(-1): other threads reap their own children).
  void ReapAdopted();

 private:
  /// A descendant as last seen.
  struct Member {
    int64_t start_time = 0;
    pid_t parent = 0;
    pid_t group = 0;
    bool zombie = false;
    bool signalled = false;  // has had the signals sent so far
  };
  /// Scans /proc: refreshes `members_`, `group_alive_` and `members_alive_`.
  void Look();
  /// Sends `sig` to the group (unless `only_new`) and to the members (only those not yet
  /// signalled, with `only_new`).
  void Send(int sig, bool only_new);

  ProcessIdentity leader_;
  bool adopt_orphans_;
  std::map<pid_t, Member> members_;
  std::map<pid_t, int64_t> earlier_orphans_;  // our children before the leader ran: start time  // the leader's descendants (and group members) by pid
  bool group_alive_ = true;
  bool members_alive_ = true;
  int sent_ = 0;  // the last signal sent (SIGTERM or SIGKILL); 0: none yet
};

/// Counts the RunProcess calls running in this process (ProcessTree's orphan adoption needs
/// to know it is the only one). RAII; used by RunProcess.
class ActiveProcessCall {
 public:
  ActiveProcessCall();
  ~ActiveProcessCall();
  ActiveProcessCall(const ActiveProcessCall&) = delete;
  ActiveProcessCall& operator=(const ActiveProcessCall&) = delete;
  /// How many calls are running now.
  static int Count();
};

}  // namespace runbook
