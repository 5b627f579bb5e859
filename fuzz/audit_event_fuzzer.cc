// Feeds: the input as stored rows of the audit log's events table, as `runbook replay`,
// `audit export` and `audit verify` read them back from a database that may have been edited
// or damaged. Events are separated by a line "--"; in each, the first lines are the columns
// event, phase, step, from_state, to_state, ts, run_id and attempt, and the rest is the
// detail column's text (JSON as the log writes it, or anything else). Each row is decoded
// (ToStoredEvent), exported (EventJsonLine, AppendEventJsonLine), hashed (CanonicalEvent,
// AppendCanonicalEvent, ChainHash) and its detail recognised (IsCanonicalJson,
// HasDuplicateKeys); then the run they form is replayed (ReplayText, ReplayJson).
//
// Checks, beyond "does not crash, hang or leak": the fast paths (export and hashing of a row
// whose detail is stored canonically) give byte for byte what the exact paths give; a
// detail recognised as canonical is what CanonicalJson writes of it; canonical JSON reads
// back as the same value; every line `audit export` writes and what `replay --json` prints
// (JsonOutput) are valid JSON, whatever the row held.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_format.h"
#include "audit/canonical_json.h"
#include "audit/event_row.h"
#include "audit/hash_chain.h"
#include "fuzz/fuzz_check.h"

namespace runbook {
namespace {

constexpr size_t kMaxEvents = 16;

std::string_view NextLine(std::string_view* text) {
  const size_t nl = text->find('\n');
  const std::string_view line = text->substr(0, nl);
  text->remove_prefix(nl == std::string_view::npos ? text->size() : nl + 1);
  return line;
}

EventRow ReadRow(std::string_view text, int64_t seq) {
  EventRow row;
  row.seq = seq;
  row.event = NextLine(&text);
  row.phase = NextLine(&text);
  row.step = NextLine(&text);
  row.from = NextLine(&text);
  row.to = NextLine(&text);
  row.ts = NextLine(&text);
  row.run_id = NextLine(&text);
  const std::string_view attempt = NextLine(&text);
  row.attempt = 0;
  for (char c : attempt.substr(0, 6)) {
    if (c < '0' || c > '9') break;
    row.attempt = row.attempt * 10 + (c - '0');
  }
  row.detail = text;
  row.prev_hash = kGenesisHash;
  row.hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  return row;
}

void CheckDetail(std::string_view detail) {
  (void)HasDuplicateKeys(detail);
  std::optional<nlohmann::json> parsed = ParseStoredJson(detail);
  if (IsCanonicalJson(detail)) FUZZ_CHECK(parsed && CanonicalJson(*parsed) == detail);
  if (parsed) {
    const std::string canonical = CanonicalJson(*parsed);
    std::optional<nlohmann::json> again = ParseStoredJson(canonical);
    FUZZ_CHECK(again && CanonicalJson(*again) == canonical);
    FUZZ_CHECK(IsCanonicalJson(canonical) || !IsCanonicalJson(detail));
  }
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<StoredEvent> events;
  for (int64_t seq = 1; !input.empty() && events.size() < kMaxEvents; ++seq) {
    const size_t end = input.find("\n--\n");
    const std::string_view text = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 4);

    const EventRow row = ReadRow(text, seq);
    CheckDetail(row.detail);
    bool detail_ok = false;
    StoredEvent event = ToStoredEvent(row, &detail_ok);
    FUZZ_CHECK(detail_ok || event.detail.is_string());

    const std::string line = EventJsonLine(event);
    std::string fast;
    AppendEventJsonLine(row, &fast);
    FUZZ_CHECK(fast == line);
    FUZZ_CHECK(!ParseStoredJson(line).value_or(nlohmann::json()).is_null());

    const std::string canonical = CanonicalEvent(event);
    std::string canonical_fast;
    if (AppendCanonicalEvent(row, &canonical_fast)) FUZZ_CHECK(canonical_fast == canonical);
    FUZZ_CHECK(ChainHash(row.prev_hash, event).size() == 64);
    events.push_back(std::move(event));
  }

  StoredRun run;
  run.run_id = events.empty() ? "r-1" : events.front().run_id;
  run.runbook = "fuzz";
  run.started_at = "2026-11-23T15:04:05.123Z";
  run.finished_at = events.empty() ? "" : events.back().ts;
  run.state = events.empty() ? "" : events.back().to;
  (void)ReplayText(run, events);
  const std::string replay = JsonOutput(ReplayJson(run, events));
  FUZZ_CHECK(nlohmann::json::accept(replay));
  run.operator_name = events.empty() ? "" : events.front().step;
  (void)RunsText({run}, FailedHostsByRun(events));
  FUZZ_CHECK(nlohmann::json::accept(JsonOutput(RunsJson({run}, FailedHostsByRun(events)))));
  return 0;
}
