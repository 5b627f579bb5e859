#include "audit/library_versions.h"

#include <sqlite3.h>

#include "audit/pq_api.h"

namespace runbook {

std::string SqliteVersion() { return sqlite3_libversion(); }

std::string LibpqVersion() {
  // MAJOR * 10000 + MINOR since PostgreSQL 10.
  Result<const PqApi*> pq = Pq();
  if (!pq.ok()) return "not loaded (" + pq.message() + ")";
  const int v = (*pq)->libVersion();
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
}

}  // namespace runbook
