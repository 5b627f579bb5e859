// How long `runbook validate` of one runbook takes against yaml-cpp's own event parse of the
// same file (docs/performance.md, bench/run validate).
//
// The floor is what any loader built on yaml-cpp must pay: YAML::Parser walking the whole text
// with an EventHandler that does nothing (in this process, the text already in memory). The
// measured thing is the built `runbook validate FILE` as a subprocess, exactly as an operator
// runs it: reading the file, loading, validating and compiling the state machine, process start
// and exit included; its wall time from spawn to reaping, and its peak RSS from wait4. The two
// are interleaved, `--repeat` times each, and the medians reported, so that load on the machine
// weighs on both alike. CPU time (user + system) is reported beside wall time: on a machine
// shared with other work, wall time measures the scheduler as much as the program.
//
//   validate_bench --runbook FILE --binary build/runbook [--repeat 5] [--json]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Receives every event and keeps nothing: the parse alone.
class NullHandler : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

struct Measure {
  double wall_s = 0;
  double cpu_s = 0;
  double max_rss_mb = 0;  // the child's
  int exit_code = -1;     // the child's
};

/// yaml-cpp parsing `text` into events, every document.
Measure EventParse(const std::string& text) {
  Clock::time_point start = Clock::now();
  double cpu = CpuSeconds();
  std::stringstream stream(text);
  YAML::Parser parser(stream);
  NullHandler handler;
  while (parser.HandleNextDocument(handler)) {
  }
  Measure m;
  m.cpu_s = CpuSeconds() - cpu;
  m.wall_s = Seconds(Clock::now() - start);
  return m;
}

/// Runs `binary validate file` with its output to /dev/null: wall and CPU time, peak RSS.
Measure RunValidate(const std::string& binary, const std::string& file) {
  Measure child;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args = {binary, "validate", file};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Clock::time_point start = Clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return child;
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) return child;
  child.wall_s = Seconds(Clock::now() - start);
  child.cpu_s = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
  child.max_rss_mb = usage.ru_maxrss / 1024.0;  // KiB on Linux
  child.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return child;
}

}  // namespace

int main(int argc, char** argv) {
  std::string runbook;
  std::string binary;
  int repeat = 5;
  bool json = false;
  CLI::App app{"runbook validate against yaml-cpp's event parse of the same file"};
  app.add_option("--runbook", runbook, "the runbook file")->required();
  app.add_option("--binary", binary, "the runbook binary")->required();
  app.add_option("--repeat", repeat, "measurements of each")->check(CLI::PositiveNumber);
  app.add_flag("--json", json, "one JSON object instead of text");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(runbook, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (!in) {
    std::fprintf(stderr, "validate_bench: cannot read %s\n", runbook.c_str());
    return 2;
  }
  const std::string text = buffer.str();

  std::vector<double> floor, floor_cpu, wall, cpu, rss;
  try {
    for (int i = 0; i < repeat; ++i) {
      Measure f = EventParse(text);
      floor.push_back(f.wall_s);
      floor_cpu.push_back(f.cpu_s);
      Measure c = RunValidate(binary, runbook);
      if (c.exit_code != 0) {
        std::fprintf(stderr, "validate_bench: %s validate %s exited with %d\n", binary.c_str(),
                     runbook.c_str(), c.exit_code);
        return 1;
      }
      wall.push_back(c.wall_s);
      cpu.push_back(c.cpu_s);
      rss.push_back(c.max_rss_mb);
    }
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "validate_bench: %s: %s\n", runbook.c_str(), e.what());
    return 1;
  }
  const double floor_s = Median(floor), wall_s = Median(wall), rss_mb = Median(rss);
  const double floor_cpu_s = Median(floor_cpu), cpu_s = Median(cpu);
  if (json) {
    nlohmann::json out = {{"bytes", text.size()},      {"repeat", repeat},
                          {"floor_s", floor_s},        {"validate_s", wall_s},
                          {"ratio", wall_s / floor_s}, {"floor_cpu_s", floor_cpu_s},
                          {"validate_cpu_s", cpu_s},   {"cpu_ratio", cpu_s / floor_cpu_s},
                          {"max_rss_mb", rss_mb},      {"floor_runs_s", floor},
                          {"validate_runs_s", wall}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s (%zu bytes), median of %d:          wall        CPU\n", runbook.c_str(),
                text.size(), repeat);
    std::printf("  yaml-cpp event parse        %8.3f s  %8.3f s\n", floor_s, floor_cpu_s);
    std::printf("  runbook validate            %8.3f s  %8.3f s  peak RSS %.1f MB\n", wall_s, cpu_s,
                rss_mb);
    std::printf("  ratio                       %8.2fx  %8.2fx\n", wall_s / floor_s,
                cpu_s / floor_cpu_s);
  }
  return 0;
}
