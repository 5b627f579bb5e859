// How the audit log is shown: `runbook audit export` (JSON lines), `runbook replay` (a
// timeline, as text or JSON), `runbook runs` (a table or JSON) and `runbook audit verify`.
// Pure functions of the stored rows; they print what the store holds, which the executor has
// already redacted, and add nothing else.
//
// Export keys (SPEC §3; the columns from_state/to_state are renamed from/to):
//   seq, run_id, ts, event, phase, step, from, to, attempt, detail, prev_hash, hash
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_records.h"
#include "audit/event_row.h"
#include "engine/host_ledger.h"

namespace runbook {

/// One event as `audit export` prints it, keys in the order above.
nlohmann::ordered_json EventToJson(const StoredEvent& event);

/// One event as `audit export` prints it: EventToJson as compact JSON, ending in '\n'.
std::string EventJsonLine(const StoredEvent& event);

/// Appends EventJsonLine(ToStoredEvent(row)) to `out`, byte for byte, without parsing the
/// detail when it is stored in canonical form (canonical_json.h): then the line holds it as it
/// is stored.
void AppendEventJsonLine(const EventRow& row, std::string* out);

/// Every event as one compact JSON object a line (EventJsonLine).
std::string ExportJsonl(const std::vector<StoredEvent>& events);

/// A run row as JSON: run_id, runbook, runbook_path, runbook_sha256, params, operator, host,
/// pid, lock_key, plan_id (null when none), dry_run, started_at, finished_at, duration_ms,
/// state, exit_code (the last four null while unfinished), and runbook_text when
/// `with_text`.
nlohmann::ordered_json RunToJson(const StoredRun& run, bool with_text);

/// Milliseconds from started_at to finished_at; nullopt while unfinished or unparsable.
std::optional<long long> RunDurationMs(const StoredRun& run);

/// Milliseconds from the run's start to the event; nullopt when a timestamp is unparsable.
std::optional<long long> EventOffsetMs(const StoredRun& run, const StoredEvent& event);

/// The failed ssh hosts of one run (`events`: its events, or those of HostLedger::Kinds(), in
/// seq order).
std::vector<FailedHost> FailedHostsOf(const std::vector<StoredEvent>& events);

/// The failed hosts of each run, by run id (`events`: of any runs, in seq order).
std::map<std::string, std::vector<FailedHost>> FailedHostsByRun(
    const std::vector<StoredEvent>& events);

/// The post-mortem timeline of `run` (`events` are its events in seq order): a header (run
/// id, runbook, operator, host, started, state, exit code), one row per event (offset from
/// the start like +12.345s, phase, step, host (detail.host of host events, or the hosts a
/// rollback action runs on), event, from→to, detail.duration_ms, detail.exit_status,
/// detail.error), then the failed hosts, one a line, and a line with the terminal state.
std::string ReplayText(const StoredRun& run, const std::vector<StoredEvent>& events);

/// {"run": RunToJson(run, true), "events": [EventToJson + "offset_ms"], "failed_hosts":
/// [FailedHost]}.
nlohmann::ordered_json ReplayJson(const StoredRun& run, const std::vector<StoredEvent>& events);

/// `runbook runs`: an aligned table (run id, runbook, state, started, duration, operator,
/// exit, failed hosts: how many, "-" for none), in the order given; "no runs recorded\n"
/// when empty. `failed_hosts`: FailedHostsByRun.
std::string RunsText(const std::vector<StoredRun>& runs,
                     const std::map<std::string, std::vector<FailedHost>>& failed_hosts = {});

/// `runbook runs --json`: an array of RunToJson(run, false), each with "started" (SPEC §7's
/// name for started_at) and "failed_hosts" (a list of FailedHost; empty when none).
nlohmann::ordered_json RunsJson(
    const std::vector<StoredRun>& runs,
    const std::map<std::string, std::vector<FailedHost>>& failed_hosts = {});

/// `value` as the `--json` output of `runs`, `stats` and `replay` prints it: indented by two,
/// with any invalid UTF-8 in it replaced by U+FFFD (as `audit export` does), so that the output
/// is JSON whatever bytes a stored row holds (an edited database, a detail that is not JSON).
std::string JsonOutput(const nlohmann::ordered_json& value);

/// `runbook audit verify`, one line ending in '\n': "audit log PATH: N events, hash chain
/// intact (head: event S, hash H)" or "audit log PATH: PROBLEM".
std::string VerifyText(const VerifyReport& report, const std::string& path);

}  // namespace runbook
