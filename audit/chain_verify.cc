#include "audit/chain_verify.h"

#include "audit/hash_chain.h"

namespace runbook {

namespace {

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// Which column of a runs row differs from what its run_started event recorded ("" if none).
/// The row's runbook text is checked through its sha256, which run_started carries since
/// the runs row joined the chain (older logs: only the columns run_started has).
std::string RunRowProblem(const StoredRun& run, const nlohmann::json& started) {
  if (!started.is_object()) return "row";
  // Each column that run_started recorded (the executor records them all).
  auto differs = [&](const char* key, const std::string& column) {
    return started.contains(key) && JsonString(started, key) != column;
  };
  if (differs("runbook", run.runbook)) return "runbook name";
  if (differs("operator", run.operator_name)) return "operator";
  if (differs("host", run.host)) return "host";
  if (started.contains("pid") && started.value("pid", 0) != run.pid) return "pid";
  if (started.contains("dry_run") && started.value("dry_run", false) != run.dry_run)
    return "dry_run";
  if (differs("plan_id", run.plan_id)) return "plan_id";
  if (differs("lock", run.lock_key)) return "lock";
  if (started.contains("params") && started["params"] != run.params) return "params";
  if (started.contains("runbook_sha256")) {
    const std::string sha = JsonString(started, "runbook_sha256");
    if (run.runbook_sha256 != sha) return "runbook_sha256";
    if (Sha256Hex(run.runbook_text) != sha) return "runbook text";
  }
  return "";
}

}  // namespace

bool ChainVerifier::Fail(int64_t seq, std::string problem) {
  report_.ok = false;
  report_.bad_seq = seq;
  report_.problem = std::move(problem);
  return false;
}

bool ChainVerifier::AddEvent(const StoredEvent& e, bool detail_ok, std::string_view stored_detail,
                             bool attempt_is_integer) {
  const std::string name = "event " + std::to_string(e.seq) + ": ";
  ++report_.events_checked;
  if (e.seq != prev_seq_ + 1) {
    std::string missing = e.seq == prev_seq_ + 2
                              ? "event " + std::to_string(prev_seq_ + 1) + " is missing"
                              : "events " + std::to_string(prev_seq_ + 1) + " to " +
                                    std::to_string(e.seq - 1) + " are missing";
    return Fail(e.seq, name +
                           (prev_seq_ == 0 ? "is the first event; "
                                           : "follows event " + std::to_string(prev_seq_) + "; ") +
                           missing + " (deleted?)");
  }
  if (e.prev_hash != prev_hash_) {
    return Fail(e.seq, name +
                           (prev_seq_ == 0
                                ? "prev_hash is not the chain's start (64 zeros)"
                                : "prev_hash does not match event " + std::to_string(prev_seq_)) +
                           " (an event was deleted or reordered, or prev_hash was edited)");
  }
  if (!detail_ok) return Fail(e.seq, name + "detail is not valid JSON (edited?)");
  if (HasDuplicateKeys(stored_detail))
    return Fail(e.seq, name + "detail has a key twice, which its hash cannot cover (edited?)");
  NoteRunEvent(e.seq, e.run_id, e.event, e.to, [&] { return e.detail; });
  if (!attempt_is_integer) return Fail(e.seq, name + "attempt is not an integer (edited?)");
  if (ChainHash(e.prev_hash, e) != e.hash) {
    return Fail(e.seq, name + "hash does not match its contents (edited?)");
  }
  prev_seq_ = e.seq;
  prev_hash_ = e.hash;
  return true;
}

bool ChainVerifier::AddRow(const EventRow& row) {
  if (row.seq == prev_seq_ + 1 && row.prev_hash == prev_hash_ && row.attempt_is_integer) {
    hash_input_.assign(row.prev_hash);
    if (AppendCanonicalEvent(row, &hash_input_) && hasher_.Matches(hash_input_, row.hash)) {
      // What the exact path would conclude: the detail is canonical, hence valid JSON without
      // a key twice, and the hash covers it as it is stored.
      ++report_.events_checked;
      if (row.event == "run_started" || row.event == "run_finished") {
        NoteRunEvent(row.seq, row.run_id, row.event, row.to,
                     [&] { return ParseStoredJson(row.detail).value_or(nlohmann::json()); });
      }
      prev_seq_ = row.seq;
      prev_hash_.assign(row.hash);
      return true;
    }
  }
  bool detail_ok = true;
  const StoredEvent event = ToStoredEvent(row, &detail_ok);
  return AddEvent(event, detail_ok, row.detail, row.attempt_is_integer);
}

void ChainVerifier::NoteRunEvent(int64_t seq, std::string_view run_id, std::string_view event,
                                 std::string_view to,
                                 const std::function<nlohmann::json()>& detail) {
  if (event == "run_started" && started_.find(run_id) == started_.end())
    started_.emplace(std::string(run_id), std::make_pair(seq, detail()));
  if (event == "run_finished") finished_[std::string(run_id)] = {seq, std::string(to)};
}

bool ChainVerifier::CheckHead(const ChainHead& head) {
  if (head.seq > prev_seq_) {
    return Fail(prev_seq_ + 1, "event " + std::to_string(prev_seq_ + 1) +
                                   ": missing; the log ends at event " + std::to_string(prev_seq_) +
                                   " but the chain head recorded in meta is event " +
                                   std::to_string(head.seq) + " (events at the end were deleted)");
  }
  if (head.seq < prev_seq_) {
    return Fail(prev_seq_, "event " + std::to_string(prev_seq_) +
                               ": the chain head recorded in meta is event " +
                               std::to_string(head.seq) + ", behind the log (meta edited?)");
  }
  if (head.hash != prev_hash_) {
    return Fail(prev_seq_, "event " + std::to_string(prev_seq_) +
                               ": hash differs from the chain head recorded in meta (edited?)");
  }
  return true;
}

bool ChainVerifier::CheckRun(const StoredRun& run) {
  auto s = started_.find(run.run_id);
  // A run whose executor died before its run_started was durable has no recorded facts
  // to hold its row to (recover ends it as aborted); there is nothing to check.
  if (s == started_.end()) return true;
  if (std::string problem = RunRowProblem(run, s->second.second); !problem.empty())
    return Fail(s->second.first, "run " + run.run_id + ": the runs table's " + problem +
                                     " does not match its run_started (event " +
                                     std::to_string(s->second.first) + "; edited?)");
  auto f = finished_.find(run.run_id);
  if (f != finished_.end() && !run.state.empty() && !f->second.second.empty() &&
      run.state != f->second.second)
    return Fail(f->second.first, "run " + run.run_id + ": the runs table's state '" + run.state +
                                     "' does not match its run_finished ('" + f->second.second +
                                     "'; edited?)");
  return true;
}

VerifyReport ChainVerifier::Report() const {
  VerifyReport report = report_;
  if (report.ok) {
    report.head_seq = prev_seq_;
    report.head_hash = prev_seq_ == 0 ? "" : prev_hash_;
  } else {
    report.head_seq = 0;
    report.head_hash.clear();
  }
  return report;
}

}  // namespace runbook
