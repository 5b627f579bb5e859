#include "steps/process_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace runbook {
namespace {

/// One line of /proc/PID/stat, the fields we use.
struct ProcStat {
  pid_t pid = 0;
  char state = 0;
  pid_t parent = 0;
  pid_t group = 0;
  int64_t start_time = 0;

  bool zombie() const { return state == 'Z' || state == 'X'; }
};

/// Reads /proc/PID/stat; nullopt when the process does not exist (or /proc is not mounted).
std::optional<ProcStat> ReadStat(const char* pid_text) {
  char path[300];  // "/proc/" + a d_name of up to 255 bytes + "/stat"
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid_text);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char text[1024];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  text[n] = '\0';
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime ...": comm may hold
  // spaces and parentheses, hence the last ')'.
  const char* close_paren = std::strrchr(text, ')');
  if (close_paren == nullptr) return std::nullopt;
  ProcStat s;
  long long start = 0;
  if (std::sscanf(text, "%d", &s.pid) != 1 ||
      std::sscanf(close_paren + 1,
                  " %c %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld",
                  &s.state, &s.parent, &s.group, &start) != 4) {
    return std::nullopt;
  }
  s.start_time = start;
  return s;
}

std::optional<ProcStat> ReadStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  return ReadStat(std::to_string(pid).c_str());
}

/// Every process /proc lists; nullopt when /proc cannot be read.
std::optional<std::vector<ProcStat>> ReadAllStats() {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::vector<ProcStat> all;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    if (auto s = ReadStat(entry->d_name)) all.push_back(*s);  // else: exited meanwhile
  }
  ::closedir(proc);
  return all;
}

/// This process's children, from /proc/self/task/TID/children: one short list per thread,
/// where ReadAllStats reads a file per process on the machine, which costs milliseconds per
/// step. nullopt when a list cannot be read (a kernel built without CONFIG_PROC_CHILDREN).
std::optional<std::vector<ProcStat>> ReadOurChildren() {
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return std::nullopt;
  std::vector<pid_t> pids;
  bool complete = true;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const std::string task = std::string("/proc/self/task/") + entry->d_name;
    const int fd = ::open((task + "/children").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // A thread that has just exited has no folder left; a thread without the file means
      // the kernel does not offer it.
      if (::access(task.c_str(), F_OK) == 0) complete = false;
      continue;
    }
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
    ::close(fd);
    const char* p = text.c_str();
    char* end = nullptr;
    for (long pid = std::strtol(p, &end, 10); end != p; pid = std::strtol(p, &end, 10)) {
      pids.push_back(static_cast<pid_t>(pid));
      p = end;
    }
  }
  ::closedir(tasks);
  if (!complete) return std::nullopt;
  std::vector<ProcStat> children;
  for (pid_t pid : pids)
    if (auto s = ReadStat(pid)) children.push_back(*s);  // else: reaped meanwhile
  return children;
}

std::atomic<int> active_calls{0};

}  // namespace

const std::string& CurrentBootId() {
  static const std::string id = [] {
    std::string text;
    const int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return text;
    char buffer[128];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ::close(fd);
    if (n > 0) text.assign(buffer, static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }();
  return id;
}

ProcessIdentity IdentifyProcess(pid_t pid) {
  ProcessIdentity id;
  id.pid = pid;
  id.boot_id = CurrentBootId();
  if (auto s = ReadStat(pid)) id.start_time = s->start_time;
  return id;
}

bool SameProcess(const ProcessIdentity& recorded) {
  if (recorded.pid <= 1 || recorded.boot_id.empty() || recorded.start_time <= 0) return false;
  if (CurrentBootId().empty() || recorded.boot_id != CurrentBootId()) return false;
  const std::optional<ProcStat> now = ReadStat(recorded.pid);
  return now && now->start_time == recorded.start_time;
}

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 1) return false;
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  const auto all = ReadAllStats();
  if (!all) return true;
  for (const ProcStat& s : *all)
    if (s.group == pgid && !s.zombie()) return true;
  return false;
}

ProcessTree::ProcessTree(const ProcessIdentity& leader, bool adopt_orphans)
    : leader_(leader), adopt_orphans_(adopt_orphans) {
  if (!adopt_orphans_) return;
  // Orphans adopted before this step (services of earlier steps) are never its descendants,
  // even when they started in the same clock tick as its leader (start times count 10 ms).
  auto children = ReadOurChildren();
  if (!children) children = ReadAllStats();
  if (children) {
    const pid_t self = ::getpid();
    for (const ProcStat& s : *children)
      if (s.parent == self && s.pid != leader_.pid) earlier_orphans_[s.pid] = s.start_time;
  }
}

void ProcessTree::Look() {
  const auto all = ReadAllStats();
  if (!all) return;  // keep what we knew (and keep calling the group alive)
  std::map<pid_t, const ProcStat*> by_pid;
  std::multimap<pid_t, pid_t> children;
  for (const ProcStat& s : *all) {
    by_pid[s.pid] = &s;
    children.emplace(s.parent, s.pid);
  }
  auto is = [&](pid_t pid, int64_t start_time) {
    auto it = by_pid.find(pid);
    return it != by_pid.end() && it->second->start_time == start_time;
  };

  std::vector<pid_t> roots;
  if (is(leader_.pid, leader_.start_time)) roots.push_back(leader_.pid);
  group_alive_ = false;
  for (const ProcStat& s : *all) {
    if (s.group != leader_.pid) continue;
    roots.push_back(s.pid);
    if (!s.zombie()) group_alive_ = true;
  }
  for (const auto& [pid, m] : members_)
    if (is(pid, m.start_time)) roots.push_back(pid);
  if (adopt_orphans_ && active_calls.load() <= 1) {
    // Our own children other than the leader are orphans re-parented to us; those that
    // started after the leader can only descend from it (no other call is running).
    const pid_t self = ::getpid();
    auto is_earlier_orphan = [this](const ProcStat& s) {
      auto it = earlier_orphans_.find(s.pid);
      return it != earlier_orphans_.end() && it->second == s.start_time;
    };
    for (const ProcStat& s : *all)
      if (s.parent == self && s.pid != leader_.pid && s.start_time >= leader_.start_time &&
          !is_earlier_orphan(s))
        roots.push_back(s.pid);
  }

  std::map<pid_t, Member> found;
  std::set<pid_t> seen;
  while (!roots.empty()) {
    const pid_t pid = roots.back();
    roots.pop_back();
    if (!seen.insert(pid).second) continue;
    auto range = children.equal_range(pid);
    for (auto it = range.first; it != range.second; ++it) roots.push_back(it->second);
    if (pid == leader_.pid) continue;
    const ProcStat& s = *by_pid.at(pid);
    Member m;
    m.start_time = s.start_time;
    m.parent = s.parent;
    m.group = s.group;
    m.zombie = s.zombie();
    auto old = members_.find(pid);
    m.signalled =
        old != members_.end() && old->second.start_time == s.start_time && old->second.signalled;
    found[pid] = m;
  }
  members_ = std::move(found);
  members_alive_ = false;
  for (const auto& [pid, m] : members_)
    if (!m.zombie) members_alive_ = true;
}

void ProcessTree::Send(int sig, bool only_new) {
  if (!only_new) ::kill(-leader_.pid, sig);
  std::set<pid_t> groups_sent;
  for (auto& [pid, m] : members_) {
    if (m.zombie || (only_new && m.signalled)) continue;
    if (m.group == leader_.pid) {
      if (only_new) ::kill(pid, sig);  // joined the group after the group was signalled
      continue;
    }
    // A group led by a member is the member's own (setsid, setpgid): signal all of it. Any
    // other group (one whose leader is gone, or the executor's own) gets the member alone.
    auto leader = members_.find(m.group);
    if (leader != members_.end() && !leader->second.zombie) {
      if (groups_sent.insert(m.group).second) ::kill(-m.group, sig);
    } else {
      ::kill(pid, sig);
    }
  }
}

void ProcessTree::Terminate() {
  if (sent_ == SIGKILL) return;
  sent_ = SIGTERM;
  Look();
  Send(SIGTERM, false);
  Send(SIGCONT, false);
  for (auto& [pid, m] : members_) m.signalled = true;
}

void ProcessTree::Kill() {
  sent_ = SIGKILL;
  Look();
  Send(SIGKILL, false);
  for (auto& [pid, m] : members_) m.signalled = true;
}

bool ProcessTree::Ended() {
  Look();
  if (sent_ != 0) {
    Send(sent_, true);
    if (sent_ == SIGTERM) Send(SIGCONT, true);
    for (auto& [pid, m] : members_) m.signalled = true;
  }
  return !group_alive_ && !members_alive_;
}

void ProcessTree::ReapAdopted() {
  Look();
  const pid_t self = ::getpid();
  for (const auto& [pid, m] : members_) {
    if (m.parent != self || !m.zombie) continue;
    while (::waitpid(pid, nullptr, WNOHANG) < 0 && errno == EINTR) {
    }
  }
}

ActiveProcessCall::ActiveProcessCall() { active_calls.fetch_add(1); }
ActiveProcessCall::~ActiveProcessCall() { active_calls.fetch_sub(1); }
int ActiveProcessCall::Count() { return active_calls.load(); }

}  // namespace runbook
