// The PostgreSQL audit store's append-only rules (docs/audit.md "PostgreSQL", docs/team.md),
// kept by triggers in the database itself, so that they hold for every session, whatever
// its grants, whichever program it runs:
//
//   events, approvals   rows are only ever added: UPDATE and DELETE are refused.
//   runs                a row is added, then ended once: the only UPDATE allowed sets state,
//                       exit_code and finished_at of a row whose finished_at is NULL (and
//                       leaves finished_at set); writing the same values again changes nothing
//                       and is allowed too. DELETE is refused.
//   plans               a row is added, then only its status changes. DELETE is refused.
//   all four            TRUNCATE is refused (a statement trigger).
//
// A refused statement fails with SQLSTATE RB001 and a message that starts "the audit log is
// append-only:"; PgConnection reports it as kRefused. `locks` and `meta` have no trigger: lock
// rows come and go, and the chain head in meta moves with every append (audit verify checks
// it against the events).
//
// Triggers do not stop a table's owner or a superuser, who may disable them (ALTER TABLE ...
// DISABLE TRIGGER USER, or session_replication_role = replica): what they change is then
// found by `audit verify`, as tampering. Grants (scripts/pg-team-roles.sql) keep operators
// from even trying.
#pragma once

#include "engine/status.h"

namespace runbook {

class PgConnection;

/// Creates the functions and triggers above in the current schema unless they are all there.
/// Call inside the transaction that holds the schema's advisory lock (PgAuditDatabase::Open),
/// so that of several sessions opening the store at once one creates them and the others find
/// them. A session that may not create them (it neither owns the tables nor may create in
/// the schema: an operator or auditor opening a store made before these rules existed) leaves
/// them to the owner's next open, and succeeds. Errors: those of PgConnection::Exec.
Status EnsureAppendOnlyTriggers(PgConnection& conn);

/// The SQLSTATE of a statement the append-only triggers refuse.
inline constexpr const char* kAppendOnlySqlstate = "RB001";

}  // namespace runbook
