// `runbook audit migrate --to URL`: copies a SQLite audit log into an empty PostgreSQL store
// with its chain intact (SPEC section 6): every run row as it is, every event with its seq and
// hashes, every plan and approval; then the copy is verified. Locks are not copied: a lock
// belongs to a live process on one machine, and migrating is done with no run going on.
#pragma once

#include <string>

#include "audit/audit_records.h"
#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

struct MigrateReport {
  std::string to;  // the destination, without its password
  int runs = 0;
  int events = 0;
  int plans = 0;
  int approvals = 0;
  VerifyReport verified;  // `audit verify` of the copy
};

/// Copies `from` into the PostgreSQL store at `to_url`. Refused (kRefused) when `from`'s
/// chain does not verify, or when the destination already holds runs, events or plans: two
/// chains are never mixed. kInvalid when `to_url` is not a postgresql:// URL.
Result<MigrateReport> MigrateAuditLog(AuditStore& from, const std::string& to_url);

}  // namespace runbook
