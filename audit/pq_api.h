// libpq's functions, loaded when a command first opens a PostgreSQL store
// (engine/shared_library.h says why). Only the headers are used at build time.
#pragma once

#include <libpq-fe.h>

#include "engine/status.h"

namespace runbook {

/// The libpq functions runbook calls, as libpq declares them.
struct PqApi {
  decltype(&::PQclear) clear;
  decltype(&::PQcmdStatus) cmdStatus;
  decltype(&::PQcmdTuples) cmdTuples;
  decltype(&::PQconnectdbParams) connectdbParams;
  decltype(&::PQerrorMessage) errorMessage;
  decltype(&::PQexec) exec;
  decltype(&::PQexecParams) execParams;
  decltype(&::PQfinish) finish;
  decltype(&::PQfreemem) freemem;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQlibVersion) libVersion;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQreset) reset;
  decltype(&::PQresultErrorField) resultErrorField;
  decltype(&::PQresultStatus) resultStatus;
  decltype(&::PQserverVersion) serverVersion;
  decltype(&::PQsetNoticeProcessor) setNoticeProcessor;
  decltype(&::PQstatus) status;
  decltype(&::PQunescapeBytea) unescapeBytea;
};

/// libpq (libpq.so.5), loaded by the first call; thread-safe. Not ok when it cannot be
/// loaded: the message says what to install.
Result<const PqApi*> Pq();

}  // namespace runbook
