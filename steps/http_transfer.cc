#include "steps/http_transfer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string_view>

#include "steps/curl_api.h"
#include "steps/http_text.h"

namespace runbook {
namespace {

constexpr int kPollMs = 1000;

// libcurl's functions: PerformHttpRequest has loaded them before anything below runs.
const CurlApi& LoadedCurl() { return **Curl(); }

struct EasyDeleter {
  void operator()(CURL* h) const { LoadedCurl().easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const { LoadedCurl().multi_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { LoadedCurl().slist_free_all(l); }
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * nmemb;
  response->body_bytes += n;
  if (response->body.size() < kMaxHttpBody) {
    response->body.append(data, std::min(n, kMaxHttpBody - response->body.size()));
  }
  return n;
}

// Sets the options of `request` on `easy`; `request`, `headers` and `errbuf` must outlive it.
CURLcode Configure(CURL* easy, const HttpRequest& request, curl_slist* headers, char* errbuf,
                   HttpResponse* response) {
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = LoadedCurl().easy_setopt(easy, option, value);
  };
  const std::string& method = request.method;
  set(CURLOPT_ERRORBUFFER, errbuf);
  set(CURLOPT_URL, request.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  set(CURLOPT_FOLLOWLOCATION, request.max_redirects > 0 ? 1L : 0L);
  set(CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects));
  set(CURLOPT_USERAGENT, "runbook");
  set(CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode; checks see the decoded body
  set(CURLOPT_WRITEFUNCTION, &WriteBody);
  set(CURLOPT_WRITEDATA, static_cast<void*>(response));
  if (!request.ca_file.empty()) set(CURLOPT_CAINFO, request.ca_file.c_str());
  if (request.insecure) {
    set(CURLOPT_SSL_VERIFYPEER, 0L);
    set(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (method == "POST") {
    set(CURLOPT_POST, 1L);  // lets curl turn a 303 into a GET, as browsers do
  } else if (method != "GET" || !request.body.empty()) {
    set(CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.c_str());
  }
  set(CURLOPT_HTTPHEADER, headers);
  return rc;
}

// "Could not resolve host" -> "could not resolve host"; "URL using..." stays as it is.
std::string LowerFirst(std::string s) {
  if (s.size() > 1 && std::islower(static_cast<unsigned char>(s[1]))) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

// The message for a transfer that ended without a response to check.
std::string TransferError(CURLcode code, const char* errbuf, bool connected,
                          const HttpRequest& request, HttpResponse* response) {
  std::string raw = errbuf[0] ? errbuf : LoadedCurl().easy_strerror(code);
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == ' ')) raw.pop_back();
  std::string why = LowerFirst(raw);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      if (!connected && request.connect_timeout < request.timeout) {
        return "could not connect within " + http::ShortDuration(request.connect_timeout) + ": " +
               why;
      }
      response->timed_out = true;
      return "timed out after " + http::ShortDuration(request.timeout);
    case CURLE_PEER_FAILED_VERIFICATION: {
      for (std::string_view prefix : {"SSL certificate problem: ", "SSL: "}) {
        if (raw.rfind(prefix, 0) == 0) {
          why = raw.substr(prefix.size());
          break;
        }
      }
      std::string hint;
      if (why.find("host name") == std::string::npos) {
        hint = request.ca_file.empty() ? " (set ca_file to trust a private CA)"
                                       : " (with ca_file " + request.ca_file + ")";
      }
      return "TLS: certificate verify failed: " + why + hint;
    }
    case CURLE_SSL_CACERT_BADFILE:
      return "TLS: cannot use ca_file " + request.ca_file +
             " (a PEM file of CA certificates is expected): " + why;
    case CURLE_SSL_CONNECT_ERROR:
      return "TLS handshake failed: " + why;
    case CURLE_COULDNT_CONNECT:
      return "cannot connect: " + why;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "cannot resolve: " + why;
    case CURLE_TOO_MANY_REDIRECTS:
      return "more than " + std::to_string(request.max_redirects) + " redirects (max_redirects)";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "unsupported URL scheme (http and https only): " + why;
    case CURLE_URL_MALFORMAT:
      return "malformed URL: " + why;
    case CURLE_GOT_NOTHING:
      return "the server closed the connection without answering";
    default:
      return why;
  }
}

}  // namespace

HttpResponse PerformHttpRequest(const HttpRequest& request, int cancel_fd) {
  HttpResponse response;
  Result<const CurlApi*> api = Curl();
  if (!api.ok()) {
    response.error = api.message();
    return response;
  }
  const CurlApi& curl = **api;
  std::unique_ptr<CURL, EasyDeleter> easy(curl.easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl.multi_init());
  if (!easy || !multi) {
    response.error = "cannot initialise libcurl";
    return response;
  }
  // "Expect:" stops curl from waiting for a 100-continue that small servers never send.
  curl_slist* list = nullptr;
  for (const std::string& h : request.headers) list = curl.slist_append(list, h.c_str());
  list = curl.slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);
  if (list == nullptr) {
    response.error = "out of memory building the headers";
    return response;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  if (CURLcode rc = Configure(easy.get(), request, headers.get(), errbuf, &response);
      rc != CURLE_OK) {
    response.error = std::string("libcurl refused an option: ") + curl.easy_strerror(rc);
    return response;
  }
  if (curl.multi_add_handle(multi.get(), easy.get()) != CURLM_OK) {
    response.error = "cannot start the transfer";
    return response;
  }

  auto start = std::chrono::steady_clock::now();
  CURLcode result = CURLE_OK;
  for (bool done = false; !done;) {
    int running = 0;
    CURLMcode mc = curl.multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) {
      response.error = std::string("libcurl: ") + curl.multi_strerror(mc);
      break;
    }
    int left = 0;
    while (CURLMsg* msg = curl.multi_info_read(multi.get(), &left)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done || running == 0) break;
    curl_waitfd extra{};
    extra.fd = cancel_fd;
    extra.events = CURL_WAIT_POLLIN;
    mc = curl.multi_poll(multi.get(), &extra, cancel_fd >= 0 ? 1 : 0, kPollMs, nullptr);
    if (mc != CURLM_OK) {
      response.error = std::string("libcurl: ") + curl.multi_strerror(mc);
      break;
    }
    if (extra.revents & CURL_WAIT_POLLIN) {
      response.cancelled = true;
      response.error = "interrupted";
      break;
    }
  }
  response.latency = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);

  curl.easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &response.status);
  curl.easy_getinfo(easy.get(), CURLINFO_REDIRECT_COUNT, &response.redirects);
  char* effective = nullptr;
  if (curl.easy_getinfo(easy.get(), CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective) {
    response.effective_url = effective;
  }
  curl_off_t connect_us = 0;
  (void)curl.easy_getinfo(easy.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
  curl.multi_remove_handle(multi.get(), easy.get());
  if (response.error.empty() && result != CURLE_OK) {
    response.error = TransferError(result, errbuf, connect_us > 0, request, &response);
  }
  return response;
}

}  // namespace runbook
