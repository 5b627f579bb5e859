#include "audit/library_versions.h"

#include <libpq-fe.h>
#include <sqlite3.h>

namespace runbook {

std::string SqliteVersion() { return sqlite3_libversion(); }

std::string LibpqVersion() {
  // MAJOR * 10000 + MINOR since PostgreSQL 10.
  const int v = PQlibVersion();
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
}

}  // namespace runbook
