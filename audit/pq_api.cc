#include "audit/pq_api.h"

#include <mutex>

#include "engine/shared_library.h"

namespace runbook {

Result<const PqApi*> Pq() {
  static PqApi api;
  static Status loaded = Status::Error("libpq: not loaded");
  static std::once_flag once;
  std::call_once(once, [] {
    loaded = LoadSharedLibrary("libpq.so.5", "the PostgreSQL audit store",
                               {Symbol("PQclear", &api.clear),
                                Symbol("PQcmdStatus", &api.cmdStatus),
                                Symbol("PQcmdTuples", &api.cmdTuples),
                                Symbol("PQconnectdbParams", &api.connectdbParams),
                                Symbol("PQerrorMessage", &api.errorMessage),
                                Symbol("PQexec", &api.exec),
                                Symbol("PQexecParams", &api.execParams),
                                Symbol("PQfinish", &api.finish),
                                Symbol("PQfreemem", &api.freemem),
                                Symbol("PQgetisnull", &api.getisnull),
                                Symbol("PQgetlength", &api.getlength),
                                Symbol("PQgetvalue", &api.getvalue),
                                Symbol("PQlibVersion", &api.libVersion),
                                Symbol("PQntuples", &api.ntuples),
                                Symbol("PQreset", &api.reset),
                                Symbol("PQresultErrorField", &api.resultErrorField),
                                Symbol("PQresultStatus", &api.resultStatus),
                                Symbol("PQserverVersion", &api.serverVersion),
                                Symbol("PQsetNoticeProcessor", &api.setNoticeProcessor),
                                Symbol("PQstatus", &api.status),
                                Symbol("PQunescapeBytea", &api.unescapeBytea)});
  });
  if (!loaded.ok()) return loaded;
  return &api;
}

}  // namespace runbook
