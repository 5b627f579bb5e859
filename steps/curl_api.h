// libcurl's functions, loaded when an HTTP step, an HTTP check or a webhook first needs them
// (engine/shared_library.h says why). Only the headers are used at build time.
#pragma once

#include <curl/curl.h>

#include "engine/status.h"

namespace runbook {

/// The libcurl functions runbook calls, as libcurl declares them.
struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_version_info) version_info;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

/// libcurl (libcurl.so.4), loaded and initialised (curl_global_init) by the first call;
/// thread-safe. Not ok when it cannot be loaded: the message says what to install.
Result<const CurlApi*> Curl();

}  // namespace runbook
