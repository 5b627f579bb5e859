// Test support for the http action and the end-to-end tests: a real cpp-httplib
// server on 127.0.0.1 (plain or TLS), a listener that accepts connections and never answers,
// and a self-signed certificate made with the openssl CLI. Only loopback is ever used.
#pragma once

// Debian's cpp-httplib is a shared library built with these; the header must agree with it.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace runbook::testing {

/// An HTTP(S) server on 127.0.0.1 and a free port, serving on its own thread until destroyed.
/// Register handlers on server() before Start().
class HttpTestServer {
 public:
  /// Plain HTTP.
  HttpTestServer() : server_(std::make_unique<httplib::Server>()), scheme_("http") {}
  /// HTTPS with the given PEM certificate and key.
  HttpTestServer(const std::string& cert_file, const std::string& key_file)
      : server_(std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str())),
        scheme_("https") {}
  ~HttpTestServer() { Stop(); }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  httplib::Server& server() { return *server_; }

  /// Binds and starts serving; returns false when the server cannot start.
  bool Start() {
    if (!server_->is_valid()) return false;
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the loop runs, so wait for it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return server_->is_running();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }

  /// "http://127.0.0.1:PORT" + path.
  std::string Url(std::string_view path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::string scheme_;
  int port_ = 0;
  std::thread thread_;
};

/// A TCP listener on 127.0.0.1 that never accepts: connections complete in the backlog and
/// requests are never answered (a hung service). Closing it (or Close()) frees the port, which
/// then refuses connections.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      Close();
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { Close(); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// Writes `dir`/cert.pem and `dir`/key.pem: a self-signed P-256 certificate for `subject` (an
/// openssl -subj value) with the given subjectAltName. Returns false when openssl fails.
inline bool MakeSelfSignedCert(const std::filesystem::path& dir, const std::string& subject,
                               const std::string& alt_names) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      " -days 1 -subj '" +
      subject + "' -addext 'subjectAltName=" + alt_names + "' -keyout '" +
      (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace runbook::testing
