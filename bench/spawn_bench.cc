// What starting one child costs while the parent holds much memory (docs/performance.md): the
// reason RunProcess starts a step's process with vfork semantics (steps/process_spawn.h)
// rather than with fork(), whose cost grows with the parent's page tables.
//
// For each size, this process first touches SIZE MB of heap (as a long run's executor holds
// memory), then starts and waits for COUNT children running /bin/true, by each of
//   fork+exec    fork(), execv() in the child, waitpid(): a plain fork-based start
//   posix_spawn  glibc's posix_spawn() (clone with CLONE_VM|CLONE_VFORK) and waitpid(): the floor
//   RunProcess   the runner of shell and kubectl steps, gate and all (nothing is recorded)
// The methods take turns, REPEAT times (with a pause after fork+exec, whose children leave work
// behind them in the kernel); the median over the repeats of the time per child is reported,
// in microseconds, as one JSON object on stdout.
//
//   spawn_bench [--sizes 0,50,500] [--count 200] [--repeat 3] [--methods fork+exec,...]
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "steps/process.h"

extern char** environ;

namespace runbook {
namespace {

constexpr const char* kProgram = "/bin/true";

bool ForkExec() {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    char* argv[] = {const_cast<char*>(kProgram), nullptr};
    ::execv(kProgram, argv);
    ::_exit(127);
  }
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool PosixSpawn() {
  pid_t pid = -1;
  char* argv[] = {const_cast<char*>(kProgram), nullptr};
  if (::posix_spawn(&pid, kProgram, nullptr, nullptr, argv, environ) != 0) return false;
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool RunProcessOnce() {
  ProcessSpec spec;
  spec.argv = {kProgram};
  return RunProcess(spec, -1).ok();
}

/// Microseconds per child over `count` children, or a negative number if one failed.
double PerChildMicros(const std::function<bool()>& start, int count) {
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    if (!start()) return -1;
  }
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - begin;
  return took.count() / count;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int Main(int argc, char** argv) {
  CLI::App app{"What starting a child costs while this process holds SIZE MB of touched memory"};
  std::vector<int> sizes = {0, 50, 500};
  int count = 200;
  int repeat = 3;
  app.add_option("--sizes", sizes, "MB of touched heap, one measurement each")->delimiter(',');
  app.add_option("--count", count, "children per measurement")->check(CLI::PositiveNumber);
  app.add_option("--repeat", repeat, "measurements per size and method")
      ->check(CLI::PositiveNumber);
  std::vector<std::string> chosen = {"posix_spawn", "RunProcess", "fork+exec"};
  app.add_option("--methods", chosen, "which of fork+exec, posix_spawn, RunProcess")
      ->delimiter(',')
      ->check(CLI::IsMember({"fork+exec", "posix_spawn", "RunProcess"}));
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, std::function<bool()>> known = {
      {"fork+exec", ForkExec}, {"posix_spawn", PosixSpawn}, {"RunProcess", RunProcessOnce}};
  std::vector<std::pair<std::string, std::function<bool()>>> methods;
  for (const std::string& name : chosen) methods.emplace_back(name, known.at(name));
  for (const auto& [name, start] : methods) PerChildMicros(start, 10);  // warm up
  nlohmann::json results = nlohmann::json::array();
  size_t held = 0;
  void* memory = nullptr;
  std::sort(sizes.begin(), sizes.end());
  for (int mb : sizes) {
    // Grow what this process holds to `mb`: fresh anonymous memory, every page written.
    if (memory != nullptr) ::munmap(memory, held);
    memory = nullptr;
    held = static_cast<size_t>(mb) << 20;
    if (held > 0) {
      memory = ::mmap(nullptr, held, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (memory == MAP_FAILED) {
        std::fprintf(stderr, "spawn_bench: cannot map %d MB: %s\n", mb, std::strerror(errno));
        return 1;
      }
      // 4 KiB pages, as a heap of small objects has (huge pages would hide the page tables).
      ::madvise(memory, held, MADV_NOHUGEPAGE);
      std::memset(memory, 1, held);
    }
    std::map<std::string, std::vector<double>> runs;
    for (int r = 0; r < repeat; ++r) {
      for (const auto& [name, start] : methods) {
        const double us = PerChildMicros(start, count);
        if (us < 0) {
          std::fprintf(stderr, "spawn_bench: %s of %s failed\n", name.c_str(), kProgram);
          return 1;
        }
        runs[name].push_back(us);
        // Forked children with a large address space leave work behind them (page tables
        // freed after an RCU grace period) that would be billed to the method measured next.
        if (name == "fork+exec") std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    for (const auto& [name, start] : methods) {
      results.push_back({{"mb", mb},
                         {"method", name},
                         {"us_per_child", Median(runs[name])},
                         {"runs", runs[name]}});
    }
  }
  nlohmann::json out = {
      {"program", kProgram}, {"count", count}, {"repeat", repeat}, {"results", results}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace runbook

int main(int argc, char** argv) { return runbook::Main(argc, argv); }
