// Loading a shared library when it is first needed rather than when the process starts.
//
// runbook links libcurl (HTTP steps, webhooks) and libpq (the PostgreSQL store) this way: linked
// as usual, every process would map them and what they link (GnuTLS, OpenLDAP, Kerberos, SASL,
// p11-kit, ...) and run those libraries' initialisers, some 4 MB of every run's memory, also of
// the runs that use neither (docs/performance.md, "local-steps"). steps/curl_api.h and
// audit/pq_api.h resolve the functions they use through it.
#pragma once

#include <initializer_list>
#include <utility>

#include "engine/status.h"

namespace runbook {

/// One function to resolve: its name in the library and where its address goes.
struct SharedSymbol {
  const char* name;
  void** slot;
};

/// Opens `soname` (dlopen with RTLD_NOW | RTLD_LOCAL; the handle is never closed) and fills
/// every slot. An error names the library and, when the library opened, the first missing
/// function, with what to do. Not thread-safe: callers load once (std::call_once).
Status LoadSharedLibrary(const char* soname, const char* what,
                         std::initializer_list<SharedSymbol> symbols);

/// `fn` typed as the function pointer `slot` holds: the slot is filled from dlsym's `void*`.
template <typename Fn>
SharedSymbol Symbol(const char* name, Fn* slot) {
  return {name, reinterpret_cast<void**>(slot)};
}

}  // namespace runbook
