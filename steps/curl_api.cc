#include "steps/curl_api.h"

#include <mutex>

#include "engine/shared_library.h"

namespace runbook {

Result<const CurlApi*> Curl() {
  static CurlApi api;
  static Status loaded = Status::Error("libcurl: not loaded");
  static std::once_flag once;
  std::call_once(once, [] {
    loaded = LoadSharedLibrary(
        "libcurl.so.4", "HTTP (http steps and checks, webhooks)",
        {Symbol("curl_global_init", &api.global_init),
         Symbol("curl_version_info", &api.version_info), Symbol("curl_easy_init", &api.easy_init),
         Symbol("curl_easy_setopt", &api.easy_setopt),
         Symbol("curl_easy_getinfo", &api.easy_getinfo),
         Symbol("curl_easy_strerror", &api.easy_strerror),
         Symbol("curl_easy_cleanup", &api.easy_cleanup), Symbol("curl_multi_init", &api.multi_init),
         Symbol("curl_multi_add_handle", &api.multi_add_handle),
         Symbol("curl_multi_remove_handle", &api.multi_remove_handle),
         Symbol("curl_multi_perform", &api.multi_perform),
         Symbol("curl_multi_poll", &api.multi_poll),
         Symbol("curl_multi_info_read", &api.multi_info_read),
         Symbol("curl_multi_strerror", &api.multi_strerror),
         Symbol("curl_multi_cleanup", &api.multi_cleanup),
         Symbol("curl_slist_append", &api.slist_append),
         Symbol("curl_slist_free_all", &api.slist_free_all)});
    if (loaded.ok() && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      loaded = Status::Error("libcurl could not be initialised (curl_global_init)");
  });
  if (!loaded.ok()) return loaded;
  return &api;
}

}  // namespace runbook
