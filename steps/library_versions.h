// The versions of the libraries the step runners link, as they report them at run time (for
// `runbook --version`: what a bug report needs to know).
#pragma once

#include <string>

namespace runbook {

/// libssh2's version, e.g. "1.10.0".
std::string Libssh2Version();
/// libcurl's version and its TLS library, e.g. "7.88.1 (OpenSSL/3.0.11)".
std::string LibcurlVersion();

}  // namespace runbook
