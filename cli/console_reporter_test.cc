#include "cli/console_reporter.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "testing/fake_environment.h"

namespace runbook {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// What a FILE* received: open_memstream, read after each flush (the reporter flushes).
class Capture {
 public:
  Capture() : file_(open_memstream(&data_, &size_)) {}
  ~Capture() {
    std::fclose(file_);
    std::free(data_);
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }
  /// What arrived since the last call.
  std::string Take() {
    std::string all = text();
    std::string fresh = all.substr(taken_);
    taken_ = all.size();
    return fresh;
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
  size_t taken_ = 0;
};

bool HasControl(const std::string& s) {
  return s.find('\r') != std::string::npos || s.find('\033') != std::string::npos;
}

class ConsoleReporterTest : public ::testing::Test {
 protected:
  ConsoleReporterTest() {
    step_.id = "deploy";
    step_.name = "deploy";
  }

  /// A reporter on `out_` (and `live_` for the live line) with the fake clock and no ticker.
  std::unique_ptr<ConsoleReporter> Make(bool live, bool color, bool live_on_out = false) {
    ConsoleOptions o;
    o.out = out_.file();
    o.live_out = live_on_out ? out_.file() : live_.file();
    o.live = live;
    o.color = color;
    o.width = 200;
    o.clock = [this] { return now_; };
    o.ticker = false;
    return MakeConsoleReporter(o);
  }
  void Advance(milliseconds d) { now_ += d; }
  void Start(Reporter& r, int attempt = 1, int attempts = 1) {
    r.StepStarted(step_, Phase::kStep, attempt, attempts, "sleep 60", false);
  }

  Capture out_, live_;
  std::chrono::steady_clock::time_point now_{};
  StepSpec step_;
};

TEST_F(ConsoleReporterTest, PlainModeWritesLinesEveryIntervalAndNoControlCharacters) {
  auto r = Make(/*live=*/false, /*color=*/false);
  Start(*r);
  EXPECT_EQ(out_.Take(), "▶ deploy: sleep 60\n");
  Advance(seconds(9));
  r->Tick();
  EXPECT_EQ(out_.Take(), "");
  Advance(seconds(1));
  r->Tick();
  EXPECT_EQ(out_.Take(), "  deploy … still running: 10s\n");
  r->Tick();  // due once per interval
  EXPECT_EQ(out_.Take(), "");
  r->StepHosts(step_, 12, 50, 1);
  r->StepOutput(step_, "web1", false, "hello");
  Advance(milliseconds(10500));
  r->Tick();
  EXPECT_EQ(out_.Take(),
            "  deploy@web1 | hello\n"
            "  deploy … still running: 20s, 12/50 hosts done, 1 failed\n");
  r->StepFinished(step_, Phase::kStep, true, "", milliseconds(21000), false);
  Advance(seconds(30));
  r->Tick();
  EXPECT_EQ(out_.Take(), "✓ deploy (21s)\n");
  EXPECT_FALSE(HasControl(out_.text()));
  EXPECT_EQ(live_.text(), "");
}

TEST_F(ConsoleReporterTest, PlainModeAfterAStallWritesOneLine) {
  auto r = Make(false, false);
  Start(*r, 2, 3);
  out_.Take();
  Advance(seconds(35));
  r->Tick();
  EXPECT_EQ(out_.Take(), "  deploy … still running: 30s, attempt 2/3\n");
}

TEST_F(ConsoleReporterTest, LiveLineAppearsAfterTwoSecondsAndRedrawsWhenItChanges) {
  auto r = Make(/*live=*/true, /*color=*/false);
  step_.timeout = milliseconds(300000);
  Start(*r);
  out_.Take();
  Advance(milliseconds(1900));
  r->Tick();
  EXPECT_EQ(live_.Take(), "");  // most steps end before they need a status
  Advance(milliseconds(100));
  r->Tick();
  EXPECT_EQ(live_.Take(), "\r  deploy … 2s (timeout 5m)\033[K");
  Advance(milliseconds(100));
  r->Tick();
  EXPECT_EQ(live_.Take(), "");  // not redrawn more than four times a second
  Advance(milliseconds(300));
  r->Tick();
  EXPECT_EQ(live_.Take(), "");  // nor when it would say the same
  r->StepHosts(step_, 3, 10, 0);
  Advance(milliseconds(250));
  r->Tick();
  EXPECT_EQ(live_.Take(), "\r  deploy … 2s (timeout 5m), 3/10 hosts done\033[K");
  Advance(milliseconds(500));
  r->Tick();
  EXPECT_EQ(live_.Take(), "\r  deploy … 3s (timeout 5m), 3/10 hosts done\033[K");
  EXPECT_EQ(out_.Take(), "");  // the live line never goes to `out`
  r->StepFinished(step_, Phase::kStep, true, "", milliseconds(3000), false);
  EXPECT_EQ(live_.Take(), "\r\033[K");  // erased before the step's last line
  Advance(seconds(5));
  r->Tick();
  EXPECT_EQ(live_.Take(), "");
}

TEST_F(ConsoleReporterTest, LiveLineIsClearedBeforeOutputAndRedrawnAfterIt) {
  auto r = Make(true, false, /*live_on_out=*/true);  // both on one stream, as with --json
  Start(*r);
  Advance(seconds(2));
  r->Tick();
  out_.Take();
  r->StepOutput(step_, "", false, "hello");
  EXPECT_EQ(out_.Take(), "\r\033[K  deploy | hello\n\r  deploy … 2s\033[K");
  r->StepFinished(step_, Phase::kStep, false, "exit 1", milliseconds(2500), false);
  EXPECT_EQ(out_.Take(), "\r\033[K✗ deploy: exit 1 (2.5s)\n");
}

TEST_F(ConsoleReporterTest, LiveLineIsCutToTheTerminalWidth) {
  ConsoleOptions o;
  o.out = out_.file();
  o.live_out = live_.file();
  o.live = true;
  o.width = 10;
  o.clock = [this] { return now_; };
  o.ticker = false;
  auto r = MakeConsoleReporter(o);
  Start(*r);
  Advance(seconds(2));
  r->Tick();
  // One column short of the edge: "  " and 7 characters, the last an ellipsis.
  EXPECT_EQ(live_.Take(), "\r  deploy…\033[K");
}

TEST_F(ConsoleReporterTest, DryRunShowsNoStatus) {
  auto r = Make(false, false);
  r->StepStarted(step_, Phase::kStep, 1, 1, "sleep 60", /*dry_run=*/true);
  Advance(seconds(60));
  r->Tick();
  EXPECT_EQ(out_.text(), "▶ deploy: would run: sleep 60\n");
}

TEST_F(ConsoleReporterTest, ColourOnlyWhenAsked) {
  auto plain = Make(false, /*color=*/false);
  plain->Note("look");
  EXPECT_EQ(out_.Take(), "note: look\n");
  auto coloured = Make(false, /*color=*/true);
  coloured->Note("look");
  EXPECT_EQ(out_.Take(), "\033[33mnote:\033[0m look\n");
}

TEST_F(ConsoleReporterTest, LinesFromManyThreadsStayWhole) {
  auto r = Make(true, false, /*live_on_out=*/true);
  Start(*r);
  Advance(seconds(3));
  r->Tick();  // the live line is up
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        r->StepOutput(step_, "h" + std::to_string(t), false, "line " + std::to_string(i));
        if (i % 10 == 0) r->Tick();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  r->StepFinished(step_, Phase::kStep, true, "", milliseconds(3000), false);
  // Every output line sits between an erase and a newline, never inside the live line.
  const std::string text = out_.text();
  int lines = 0;
  size_t at = 0;
  while ((at = text.find("  deploy@h", at)) != std::string::npos) {
    ASSERT_GE(at, 4u);
    EXPECT_EQ(text.substr(at - 4, 4), "\r\033[K");
    const size_t nl = text.find('\n', at);
    ASSERT_NE(nl, std::string::npos);
    EXPECT_EQ(text.substr(at, nl - at).find('\r'), std::string::npos);
    ++lines;
    at = nl;
  }
  EXPECT_EQ(lines, 800);
}

TEST(ConsoleOptionsTest, ColourNeedsATerminalNoNoColorAndATermThatIsNotDumb) {
  testing::FakeEnvironment env;
  std::string warning;
  ConsoleOptions o = ConsoleOptionsFor(stdout, env, true, true, &warning);
  EXPECT_TRUE(o.color);
  EXPECT_TRUE(o.live);
  EXPECT_EQ(o.timing.plain_every, milliseconds(10000));

  o = ConsoleOptionsFor(stdout, env, /*out_is_tty=*/false, /*stderr_is_tty=*/false, &warning);
  EXPECT_FALSE(o.color);
  EXPECT_FALSE(o.live);

  // A pipe on stdout, a terminal on stderr: the live line there, no colour in the pipe.
  o = ConsoleOptionsFor(stdout, env, false, true, &warning);
  EXPECT_FALSE(o.color);
  EXPECT_TRUE(o.live);

  env.SetEnv("NO_COLOR", "");  // no-color.org: set and empty means nothing
  EXPECT_TRUE(ConsoleOptionsFor(stdout, env, true, true, &warning).color);
  env.SetEnv("NO_COLOR", "1");
  o = ConsoleOptionsFor(stdout, env, true, true, &warning);
  EXPECT_FALSE(o.color);
  EXPECT_TRUE(o.live);  // no colour, but still the live line

  env.SetEnv("NO_COLOR", "");
  env.SetEnv("TERM", "dumb");
  o = ConsoleOptionsFor(stdout, env, true, true, &warning);
  EXPECT_FALSE(o.color);
  EXPECT_FALSE(o.live);
  EXPECT_EQ(warning, "");
}

TEST(ConsoleOptionsTest, ProgressIntervalFromTheEnvironment) {
  testing::FakeEnvironment env;
  std::string warning;
  env.SetEnv("RUNBOOK_PROGRESS_INTERVAL", "500ms");
  EXPECT_EQ(ConsoleOptionsFor(stdout, env, false, false, &warning).timing.plain_every,
            milliseconds(500));
  env.SetEnv("RUNBOOK_PROGRESS_INTERVAL", "0");
  EXPECT_EQ(ConsoleOptionsFor(stdout, env, false, false, &warning).timing.plain_every,
            milliseconds(0));
  EXPECT_EQ(warning, "");
  env.SetEnv("RUNBOOK_PROGRESS_INTERVAL", "10");
  EXPECT_EQ(ConsoleOptionsFor(stdout, env, false, false, &warning).timing.plain_every,
            milliseconds(10000));
  EXPECT_EQ(warning,
            "RUNBOOK_PROGRESS_INTERVAL='10' is not a duration such as 10s or 500ms; progress "
            "lines every 10s");
}

TEST_F(ConsoleReporterTest, NoPlainLinesWhenTheIntervalIsZero) {
  ConsoleOptions o;
  o.out = out_.file();
  o.timing.plain_every = milliseconds(0);
  o.clock = [this] { return now_; };
  o.ticker = false;
  auto r = MakeConsoleReporter(o);
  Start(*r);
  out_.Take();
  Advance(seconds(600));
  r->Tick();
  EXPECT_EQ(out_.Take(), "");
}

}  // namespace
}  // namespace runbook
