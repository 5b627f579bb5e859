#include "engine/shared_library.h"

#include <dlfcn.h>

#include <string>

namespace runbook {

Status LoadSharedLibrary(const char* soname, const char* what,
                         std::initializer_list<SharedSymbol> symbols) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::Error(std::string("cannot load ") + soname + ", which " + what + " needs (" +
                         (why ? why : "unknown error") + "): install it (Debian: see " +
                         "`apt-cache search " + soname + "`) or check LD_LIBRARY_PATH");
  }
  for (const SharedSymbol& symbol : symbols) {
    ::dlerror();
    *symbol.slot = ::dlsym(handle, symbol.name);
    if (*symbol.slot == nullptr) {
      return Status::Error(std::string(soname) + " has no function " + symbol.name + ", which " +
                           what + " needs: it is older than the version runbook was built " +
                           "against; install a newer one");
    }
  }
  return Status::Ok();
}

}  // namespace runbook
