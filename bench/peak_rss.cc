// peak_rss OUT CMD [ARG...]: runs CMD (stdin, stdout and stderr inherited), waits for it and
// writes to OUT one JSON object: {"exit": status, "wall_s", "cpu_s" (user + system of CMD and
// its children), "maxrss_kb" (wait4's ru_maxrss)}. Exits 0 once OUT is written.
//
// Why not measure from Python (bench/local_steps.py) directly: Linux gives a child the peak
// RSS of the memory it had before exec (the kernel's exec_mmap keeps the larger), and a child
// of Python starts with Python's memory, 14 to 16 MB here, more than some of the figures to
// measure. This program is small (about 1 MB), so its child's figure is the command's own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace {

double Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: peak_rss OUT CMD [ARG...]\n");
    return 2;
  }
  const double start = Now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("peak_rss: fork");
    return 1;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    std::perror("peak_rss: exec");
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) {
    std::perror("peak_rss: wait4");
    return 1;
  }
  const double wall = Now() - start;
  std::FILE* out = std::fopen(argv[1], "w");
  if (out == nullptr) {
    std::perror("peak_rss: cannot write its result");
    return 1;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::fprintf(out, "{\"exit\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f, \"maxrss_kb\": %ld}\n", code,
               wall, Seconds(usage.ru_utime) + Seconds(usage.ru_stime), usage.ru_maxrss);
  return std::fclose(out) == 0 ? 0 : 1;
}
