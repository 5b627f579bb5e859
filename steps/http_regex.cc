#include "steps/http_regex.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>

namespace runbook {
namespace {

// Reserved, not committed: only the pages the recursion touches are used.
constexpr size_t kStackSizes[] = {size_t{256} << 20, size_t{64} << 20};

/// One search, shared by the waiting caller and the worker thread; whichever lets go last
/// frees it, so an abandoned search cleans up after itself.
struct SearchJob {
  std::regex re;
  std::string text;
  std::atomic<RegexSearchOutcome> outcome{RegexSearchOutcome::kError};
  std::string error;       // written before `done` is signalled
  int done[2] = {-1, -1};  // a byte is written to done[1] when the search ends

  ~SearchJob() {
    for (int fd : done) {
      if (fd >= 0) ::close(fd);
    }
  }
};

void* RunSearch(void* arg) {
  std::unique_ptr<std::shared_ptr<SearchJob>> holder(static_cast<std::shared_ptr<SearchJob>*>(arg));
  SearchJob& job = **holder;
  try {
    job.outcome = std::regex_search(job.text, job.re) ? RegexSearchOutcome::kMatch
                                                      : RegexSearchOutcome::kNoMatch;
  } catch (const std::exception& e) {
    job.error = e.what();
    job.outcome = RegexSearchOutcome::kError;
  }
  char byte = 1;
  while (::write(job.done[1], &byte, 1) < 0 && errno == EINTR) {
  }
  return nullptr;
}

}  // namespace

RegexSearchOutcome SearchBody(const std::regex& re, std::string_view text, Duration budget,
                              int cancel_fd, std::string* error) {
  auto job = std::make_shared<SearchJob>();
  job->re = re;
  job->text = std::string(text.substr(0, kBodyRegexLimit));
  if (::pipe2(job->done, O_CLOEXEC) != 0) {
    if (error) *error = "cannot create a pipe";
    return RegexSearchOutcome::kError;
  }
  bool started = false;
  for (size_t stack : kStackSizes) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) break;
    pthread_attr_setstacksize(&attr, stack);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* arg = new std::shared_ptr<SearchJob>(job);
    pthread_t thread;
    started = pthread_create(&thread, &attr, &RunSearch, arg) == 0;
    pthread_attr_destroy(&attr);
    if (started) break;
    delete arg;
  }
  if (!started) {
    if (error) *error = "cannot start a thread for the search";
    return RegexSearchOutcome::kError;
  }

  auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return RegexSearchOutcome::kTimedOut;
    pollfd fds[2] = {{job->done[0], POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1,
                   static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) {
      if (error) *error = "poll failed";
      return RegexSearchOutcome::kError;
    }
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      RegexSearchOutcome outcome = job->outcome.load();
      if (outcome == RegexSearchOutcome::kError && error) *error = job->error;
      return outcome;
    }
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return RegexSearchOutcome::kCancelled;
  }
}

}  // namespace runbook
