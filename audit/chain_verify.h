// The checks of `runbook audit verify` (docs/audit.md "runbook audit verify"), apart from
// where the rows come from: a store reads its events in seq order, its chain head and its runs
// table, and feeds them here. So the SQLite and the PostgreSQL logs find the same faults and
// name them in the same words (a log copied from one to the other verifies the same way).
//
// A store feeds its rows as they are stored (AddRow): a row that links on and whose detail is
// stored in canonical form is hashed as it is stored, without parsing (hash_chain.h); any other
// row, and any whose hash does not match that way, is checked by the exact path (AddEvent),
// which finds and names every fault as it always has. The fast path only ever accepts what the
// exact path would accept.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "audit/audit_records.h"
#include "audit/chain_append.h"
#include "audit/event_row.h"
#include "engine/sha256.h"

namespace runbook {

/// Verification of one chain, fed in this order: AddRow (or AddEvent) for every event by seq,
/// CheckHead,
/// CheckRun for every runs row. Each returns false at the first problem; feed nothing more
/// then: Report() names it. Not thread-safe; one per verification.
class ChainVerifier {
 public:
  /// The next event. `detail_ok` says whether the stored detail text parsed as JSON (when not,
  /// event.detail holds the text), `stored_detail` is that text, `attempt_is_integer` whether
  /// the attempt column held an integer (a column type may already guarantee it).
  bool AddEvent(const StoredEvent& event, bool detail_ok, std::string_view stored_detail,
                bool attempt_is_integer = true);
  /// The next event as the store holds it: the same outcome, in the same words, as
  /// AddEvent(ToStoredEvent(row), ...), and faster when its detail is stored canonically.
  bool AddRow(const EventRow& row);
  /// The chain head recorded beside the chain (`meta`): it must be the last event added.
  bool CheckHead(const ChainHead& head);
  /// A runs row: it must match what its run_started recorded, and its state its run_finished.
  bool CheckRun(const StoredRun& run);
  /// A fault of the store as a whole (a damaged file): bad_seq 0.
  void Fail(std::string problem) { Fail(0, std::move(problem)); }

  bool failed() const { return !report_.ok; }
  /// The outcome: the first problem, or ok with the number of events and the head.
  VerifyReport Report() const;

 private:
  bool Fail(int64_t seq, std::string problem);
  // Notes what a run_started or run_finished says about its run; `detail` gives the event's
  // detail, asked for only when needed.
  void NoteRunEvent(int64_t seq, std::string_view run_id, std::string_view event,
                    std::string_view to, const std::function<nlohmann::json()>& detail);

  VerifyReport report_;
  int64_t prev_seq_ = 0;
  std::string prev_hash_{kGenesisHash};
  // What the chain says about each run, to hold the runs table to (SPEC §5): by run, the seq
  // and detail of its run_started, and the seq and state of its run_finished.
  std::map<std::string, std::pair<int64_t, nlohmann::json>, std::less<>> started_;
  std::map<std::string, std::pair<int64_t, std::string>, std::less<>> finished_;
  // The fast path's digest and the buffer it hashes, kept from one row to the next.
  Sha256Hasher hasher_;
  std::string hash_input_;
};

}  // namespace runbook
