#include "steps/ssh_session.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include <libssh2.h>

#include "steps/known_hosts.h"
#include "steps/ssh_identity.h"

namespace runbook {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kMarker[] = "runbook-pgid:";
// How much stderr may come before the marker line (login scripts) before we stop looking.
constexpr size_t kMarkerSearchBytes = 4096;

void InitLibssh2() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

std::string Seconds(Duration d) {
  long ms = static_cast<long>(d.count());
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Host key algorithms libssh2 may negotiate for a key type found in known_hosts.
std::vector<std::string> AlgorithmsFor(const std::string& type) {
  if (type == "ssh-rsa") return {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"};
  return {type};
}

// True when the private key file holds an RSA key (PEM, or OpenSSH format whose unencrypted
// header names the public key's type).
bool IsRsaKey(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string text(16384, '\0');
  ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  if (text.find("BEGIN RSA PRIVATE KEY") != std::string::npos) return true;
  std::string b64, line, raw;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    line = text.substr(at, nl - at);
    if (line.find("-----") == std::string::npos) b64 += line;
    at = nl + 1;
  }
  b64.erase(std::remove(b64.begin(), b64.end(), '\r'), b64.end());
  while (b64.size() % 4 != 0) b64 += '=';
  const std::string rsa_type("\0\0\0\x07ssh-rsa", 11);
  return Base64Decode(b64, &raw) && raw.find(rsa_type) != std::string::npos;
}

}  // namespace

SshSession::SshSession(SshAddress address, const SshLogin& login, KnownHosts& known_hosts,
                       std::string command, LineSink sink)
    : address_(std::move(address)),
      login_(login),
      known_hosts_(known_hosts),
      command_(std::string("echo ") + kMarker + "$$ >&2; eval \"$(cat)\""),
      script_(std::move(command)),
      sink_(std::move(sink)) {
  result_.host = address_.spec;
}

SshSession::~SshSession() { Release(); }

void SshSession::Start(TimePoint now) {
  InitLibssh2();
  started_ = now;
  connect_deadline_ = now + login_.connect_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // Blocking, but cheap for addresses and names in /etc/hosts or the resolver's cache.
  int rc = getaddrinfo(address_.host.c_str(), std::to_string(address_.port).c_str(), &hints,
                       &found);
  if (rc != 0) {
    Fail("cannot resolve host name '" + address_.host + "': " + gai_strerror(rc));
    return;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const char* p = reinterpret_cast<const char*>(a->ai_addr);
    addrs_.emplace_back(p, p + a->ai_addrlen);
  }
  freeaddrinfo(found);
  ConnectNext();
  if (stage_ == Stage::kHandshake) Advance(now);
}

void SshSession::ConnectNext() {
  while (next_addr_ < addrs_.size()) {
    const std::vector<char>& addr = addrs_[next_addr_++];
    const auto* sa = reinterpret_cast<const sockaddr*>(addr.data());
    if (fd_ >= 0) close(fd_);
    fd_ = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      connect_error_ = std::string("cannot create a socket: ") + std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, sa, static_cast<socklen_t>(addr.size())) == 0) {
      BeginSsh();
      return;
    }
    if (errno == EINPROGRESS) {
      stage_ = Stage::kConnecting;
      return;
    }
    connect_error_ = errno == ECONNREFUSED ? "connection refused"
                                           : std::string("cannot connect: ") + std::strerror(errno);
  }
  Fail(connect_error_.empty() ? "no address to connect to" : connect_error_);
}

bool SshSession::TryConnect() {
  pollfd p{fd_, POLLOUT, 0};
  if (poll(&p, 1, 0) <= 0) return false;  // still connecting
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    connect_error_ = err == ECONNREFUSED ? "connection refused"
                                         : std::string("cannot connect: ") + std::strerror(err);
    ConnectNext();
    return stage_ == Stage::kHandshake;
  }
  return BeginSsh();
}

bool SshSession::BeginSsh() {
  session_ = libssh2_session_init();
  if (session_ == nullptr) {
    Fail("cannot create an SSH session (out of memory)");
    return false;
  }
  libssh2_session_set_blocking(session_, 0);
  // Ask first for the key types known_hosts holds for this host, so that a host with several
  // keys offers one we can check (as OpenSSH does).
  std::vector<std::string> known = known_hosts_.KnownTypes(address_.host, address_.port);
  if (!known.empty()) {
    std::string pref;
    auto add = [&pref](const std::string& alg) {
      std::string padded = "," + pref + ",";
      if (padded.find("," + alg + ",") != std::string::npos) return;
      if (!pref.empty()) pref += ",";
      pref += alg;
    };
    for (const std::string& type : known) {
      for (const std::string& alg : AlgorithmsFor(type)) add(alg);
    }
    const char** algs = nullptr;
    int n = libssh2_session_supported_algs(session_, LIBSSH2_METHOD_HOSTKEY, &algs);
    for (int i = 0; i < n; ++i) add(algs[i]);
    if (n > 0) libssh2_free(session_, algs);
    libssh2_session_method_pref(session_, LIBSSH2_METHOD_HOSTKEY, pref.c_str());
  }
  stage_ = Stage::kHandshake;
  return true;
}

short SshSession::events() const {
  switch (stage_) {
    case Stage::kNew:
    case Stage::kDone:
      return 0;
    case Stage::kConnecting:
      return POLLOUT;
    case Stage::kHandshake:
    case Stage::kAuth:
    case Stage::kOpen:
    case Stage::kExec:
    case Stage::kRunning:
    case Stage::kClosing:
      break;
  }
  int dirs = session_ != nullptr ? libssh2_session_block_directions(session_) : 0;
  short ev = 0;
  if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND) ev |= POLLIN;
  if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) ev |= POLLOUT;
  return ev != 0 ? ev : POLLIN;
}

SshSession::TimePoint SshSession::deadline() const {
  TimePoint d = TimePoint::max();
  if (stage_ == Stage::kDone) return d;
  if (stage_ < Stage::kOpen) d = connect_deadline_;
  if (stopping_) d = std::min(d, stop_deadline_);
  if (stage_ == Stage::kRunning) d = std::min(d, keepalive_due_);
  return d;
}

const char* SshSession::Waiting() const {
  switch (stage_) {
    case Stage::kNew:
    case Stage::kConnecting:
      return "no TCP connection";
    case Stage::kHandshake:
      return "no SSH handshake";
    case Stage::kAuth:
      return "authentication not finished";
    case Stage::kOpen:
    case Stage::kExec:
    case Stage::kRunning:
    case Stage::kClosing:
    case Stage::kDone:
      break;
  }
  return "no answer";
}

std::string SshSession::SessionError() const {
  char* msg = nullptr;
  int len = 0;
  if (session_ == nullptr) return "no session";
  libssh2_session_last_error(session_, &msg, &len, 0);
  return msg != nullptr && len > 0 ? std::string(msg, static_cast<size_t>(len)) : "unknown error";
}

void SshSession::Advance(TimePoint now) {
  if (stage_ == Stage::kDone || stage_ == Stage::kNew) return;
  if (stage_ < Stage::kOpen && now >= connect_deadline_) {
    Fail(std::string("timeout: ") + Waiting() + " within " + Seconds(login_.connect_timeout));
    return;
  }
  if (stopping_ && now >= stop_deadline_ && stage_ != Stage::kRunning &&
      stage_ != Stage::kClosing) {
    Finish();
    return;
  }
  for (;;) {
    switch (stage_) {
      case Stage::kNew:
      case Stage::kDone:
        return;
      case Stage::kConnecting:
        if (!TryConnect()) return;
        break;
      case Stage::kHandshake: {
        int rc = libssh2_session_handshake(session_, fd_);
        if (rc == LIBSSH2_ERROR_EAGAIN) return;
        if (rc != 0) {
          Fail("ssh handshake failed: " + SessionError());
          return;
        }
        handshaken_ = true;
        if (!CheckHostKey()) return;
        stage_ = Stage::kAuth;
        break;
      }
      case Stage::kAuth: {
        int rc = Authenticate();
        if (rc == LIBSSH2_ERROR_EAGAIN) return;
        if (rc != 0) return;  // Authenticate() failed the session
        if (login_.keepalive.count() > 0) {
          long secs = std::max<long>(1, static_cast<long>(login_.keepalive.count()) / 1000);
          libssh2_keepalive_config(session_, 1, static_cast<unsigned>(secs));
          keepalive_due_ = now + std::chrono::seconds(secs);
        }
        stage_ = Stage::kOpen;
        break;
      }
      case Stage::kOpen:
        channel_ = libssh2_channel_open_session(session_);
        if (channel_ == nullptr) {
          if (libssh2_session_last_errno(session_) == LIBSSH2_ERROR_EAGAIN) return;
          Fail("cannot open a session channel: " + SessionError());
          return;
        }
        stage_ = Stage::kExec;
        break;
      case Stage::kExec: {
        result_.reached = true;  // from here on the command may be running
        int rc = libssh2_channel_exec(channel_, command_.c_str());
        if (rc == LIBSSH2_ERROR_EAGAIN) return;
        if (rc != 0) {
          Fail("the server refused to run the command: " + SessionError());
          return;
        }
        stage_ = Stage::kRunning;
        break;
      }
      case Stage::kRunning: {
        while (script_sent_ < script_.size()) {
          ssize_t rc = libssh2_channel_write(channel_, script_.data() + script_sent_,
                                             script_.size() - script_sent_);
          if (rc == LIBSSH2_ERROR_EAGAIN) break;
          if (rc < 0) {
            Fail("cannot send the command: " + SessionError());
            return;
          }
          script_sent_ += static_cast<size_t>(rc);
        }
        if (!eof_sent_ && script_sent_ == script_.size()) {
          // The command's own stdin is then empty, as /dev/null.
          int rc = libssh2_channel_send_eof(channel_);
          if (rc == 0) eof_sent_ = true;
        }
        ReadOutput();
        if (stage_ == Stage::kDone) return;
        if (stopping_) DriveKill();
        if (stage_ == Stage::kDone) return;
        if (now >= keepalive_due_) {
          int next = 0;
          libssh2_keepalive_send(session_, &next);
          keepalive_due_ = now + std::chrono::seconds(std::max(1, next));
        }
        if (libssh2_channel_eof(channel_) == 0) {
          if (stopping_ && now >= stop_deadline_) Finish();
          return;
        }
        stage_ = Stage::kClosing;
        break;
      }
      case Stage::kClosing: {
        int rc = libssh2_channel_close(channel_);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
          if (stopping_ && now >= stop_deadline_) Finish();
          return;
        }
        if (rc == 0) rc = libssh2_channel_wait_closed(channel_);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
          if (stopping_ && now >= stop_deadline_) Finish();
          return;
        }
        Finish();
        return;
      }
    }
  }
}

bool SshSession::CheckHostKey() {
  size_t len = 0;
  int type = 0;
  const char* raw = libssh2_session_hostkey(session_, &len, &type);
  if (raw == nullptr || len == 0) {
    Fail("host key unavailable: the server sent no host key");
    return false;
  }
  HostKey key{std::string(raw, len)};
  HostKeyCheck check = known_hosts_.Check(address_.host, address_.port, key);
  if (check.match == HostKeyMatch::kUnknown &&
      login_.host_key_checking == HostKeyChecking::kAcceptNew) {
    Result<HostKeyCheck> added = known_hosts_.AcceptNew(address_.host, address_.port, key);
    if (!added.ok()) {
      Fail("cannot record the new host key: " + added.message());
      return false;
    }
    check = *added;
    if (check.match == HostKeyMatch::kUnknown) return true;  // recorded now
  }
  switch (check.match) {
    case HostKeyMatch::kMatch:
      return true;
    case HostKeyMatch::kUnknown:
    case HostKeyMatch::kMismatch:
    case HostKeyMatch::kRevoked:
      break;
  }
  Fail(check.message);
  return false;
}

int SshSession::Authenticate() {
  if (login_.identity_file.empty()) return AuthenticateWithAgent();
  int rc = 0;
  if (login_.identity != nullptr) {
    rc = AuthenticateWithIdentity();
  } else {
    if (access(login_.identity_file.c_str(), R_OK) != 0) {
      Fail("auth: cannot read identity file " + login_.identity_file + ": " +
           std::strerror(errno));
      return -1;
    }
    rc = libssh2_userauth_publickey_fromfile_ex(
        session_, login_.user.c_str(), static_cast<unsigned>(login_.user.size()), nullptr,
        login_.identity_file.c_str(),
        login_.passphrase.empty() ? nullptr : login_.passphrase.c_str());
  }
  if (rc == LIBSSH2_ERROR_EAGAIN || rc == 0) return rc;
  if (rc == LIBSSH2_ERROR_FILE) {
    Fail("auth: cannot use identity file " + login_.identity_file + " (" + SessionError() +
         (login_.passphrase.empty() ? "; is it protected by a passphrase?)" : ")"));
  } else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
             rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
    Fail("auth refused: the server did not accept " + login_.identity_file + " for user " +
         login_.user +
         (IsRsaKey(login_.identity_file)
              ? " (libssh2 1.10 signs with RSA keys only as ssh-rsa/SHA-1, which OpenSSH 8.8 and"
                " later refuse unless PubkeyAcceptedAlgorithms has +ssh-rsa; an ed25519 key"
                " avoids this)"
              : ""));
  } else {
    Fail("auth failed: " + SessionError());
  }
  return rc;
}

namespace {

// libssh2's sign callback for AuthenticateWithIdentity(): `abstract` points at the identity.
// libssh2 frees the signature with its allocator, the default one (malloc) for our sessions.
int SignWithIdentity(LIBSSH2_SESSION* /*session*/, unsigned char** sig, size_t* sig_len,
                     const unsigned char* data, size_t data_len, void** abstract) {
  const auto* identity = static_cast<const SshIdentity*>(*abstract);
  const std::string signature = identity->Sign(data, data_len);
  if (signature.empty()) return -1;
  *sig = static_cast<unsigned char*>(std::malloc(signature.size()));
  if (*sig == nullptr) return -1;
  std::memcpy(*sig, signature.data(), signature.size());
  *sig_len = signature.size();
  return 0;
}

}  // namespace

// The key was read once for the step (ssh_identity.h): sign with it instead of letting libssh2
// read the file twice for this host.
int SshSession::AuthenticateWithIdentity() {
  const std::string& blob = login_.identity->public_blob();
  sign_abstract_ = const_cast<SshIdentity*>(login_.identity.get());
  return libssh2_userauth_publickey(session_, login_.user.c_str(),
                                    reinterpret_cast<const unsigned char*>(blob.data()),
                                    blob.size(), &SignWithIdentity, &sign_abstract_);
}

int SshSession::AuthenticateWithAgent() {
  if (agent_ == nullptr) {
    agent_ = libssh2_agent_init(session_);
    if (agent_ == nullptr) {
      Fail("auth: cannot use ssh-agent: " + SessionError());
      return -1;
    }
    if (libssh2_agent_connect(agent_) != 0) {
      const char* sock = getenv("SSH_AUTH_SOCK");
      Fail(std::string("auth: no identity_file and no ssh-agent to ask (") +
           (sock != nullptr ? std::string("cannot connect to ") + sock : "SSH_AUTH_SOCK is not set") +
           ")");
      return -1;
    }
    if (libssh2_agent_list_identities(agent_) != 0) {
      Fail("auth: cannot list the keys of ssh-agent: " + SessionError());
      return -1;
    }
    if (libssh2_agent_get_identity(agent_, &identity_, nullptr) != 0) {
      Fail("auth refused: ssh-agent holds no key (and no identity_file was given)");
      return -1;
    }
    agent_keys_tried_ = 1;
  }
  for (;;) {
    int rc = libssh2_agent_userauth(agent_, login_.user.c_str(), identity_);
    if (rc == LIBSSH2_ERROR_EAGAIN || rc == 0) return rc;
    libssh2_agent_publickey* prev = identity_;
    if (libssh2_agent_get_identity(agent_, &identity_, prev) != 0) {
      Fail("auth refused: the server accepted none of the " + std::to_string(agent_keys_tried_) +
           " ssh-agent key(s) for user " + login_.user);
      return rc;
    }
    ++agent_keys_tried_;
  }
}

void SshSession::ReadOutput() {
  char buf[32768];
  // Reading one stream drains the socket into libssh2's packet list, stdout data (and the
  // remote EOF) included while reading stderr. Data left there would never wake poll(2) again,
  // and libssh2_channel_eof() hides the EOF while it waits (the session hung, its command long
  // done): read until libssh2 holds no data for either stream.
  // A second pass in a row that reads nothing although libssh2 says it holds data ends it
  // too: a kind of extended data no stream reads must not spin the loop.
  for (int idle = 0;;) {
    bool read = false;
    for (int stream = 0; stream <= 1; ++stream) {
      for (;;) {
        ssize_t n = libssh2_channel_read_ex(channel_, stream, buf, sizeof buf);
        if (n > 0) {
          OnData(stream == 1, std::string_view(buf, static_cast<size_t>(n)));
          read = true;
          continue;
        }
        if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) break;
        Fail("connection lost: " + SessionError());
        return;
      }
    }
    idle = read ? 0 : idle + 1;
    if (idle >= 2 || libssh2_poll_channel_read(channel_, /*either stream=*/1) != 1) return;
  }
}

void SshSession::OnData(bool is_stderr, std::string_view data) {
  if (is_stderr && !marker_done_) {
    // Login scripts may write to stderr before our marker line: look for the marker at the
    // start of any of the first lines, pass the others through.
    marker_buf_.append(data);
    size_t at = marker_buf_.find(std::string("\n") + kMarker);
    size_t start = marker_buf_.compare(0, sizeof kMarker - 1, kMarker) == 0 ? 0
                   : at != std::string::npos                               ? at + 1
                                                                            : std::string::npos;
    size_t end = start != std::string::npos ? marker_buf_.find('\n', start) : std::string::npos;
    if (end == std::string::npos && marker_buf_.size() < kMarkerSearchBytes) return;
    marker_done_ = true;
    std::string pending = std::move(marker_buf_);
    if (end != std::string::npos) {
      pgid_ = std::strtol(pending.c_str() + start + sizeof kMarker - 1, nullptr, 10);
      pending.erase(start, end + 1 - start);
    }
    if (pending.empty()) return;
    err_tail_.Append(pending);
    err_lines_.Feed(pending, [&](std::string_view line, bool continues) {
      sink_(address_.spec, true, line, continues);
    });
    return;
  }
  (is_stderr ? err_tail_ : out_tail_).Append(data);
  (is_stderr ? err_lines_ : out_lines_).Feed(data, [&](std::string_view line, bool continues) {
    sink_(address_.spec, is_stderr, line, continues);
  });
}

void SshSession::Stop(TimePoint now, std::string reason, Duration grace) {
  if (stage_ == Stage::kDone || stopping_) return;
  stopping_ = true;
  stop_reason_ = std::move(reason);
  if (!result_.reached) {
    Fail(stop_reason_);
    return;
  }
  grace_ = grace;
  stop_deadline_ = now + grace;
  if (stage_ == Stage::kRunning) DriveKill();
}

void SshSession::DriveKill() {
  if (pgid_ <= 1) return;  // the marker has not arrived (yet); the deadline still applies
  if (kill_ == Kill::kNone) kill_ = Kill::kOpen;
  if (kill_ == Kill::kOpen) {
    kill_channel_ = libssh2_channel_open_session(session_);
    if (kill_channel_ == nullptr) {
      if (libssh2_session_last_errno(session_) != LIBSSH2_ERROR_EAGAIN) kill_ = Kill::kSent;
      return;
    }
    kill_ = Kill::kExec;
  }
  if (kill_ == Kill::kExec) {
    const std::string g = std::to_string(pgid_);
    const long secs = std::max<long>(1, (grace_.count() + 999) / 1000);
    const std::string cmd = "kill -TERM -" + g + " 2>/dev/null; n=0; while [ $n -lt " +
                            std::to_string(secs) + " ] && kill -0 -" + g +
                            " 2>/dev/null; do sleep 1; n=$((n+1)); done; kill -KILL -" + g +
                            " 2>/dev/null; true";
    int rc = libssh2_channel_exec(kill_channel_, cmd.c_str());
    if (rc == LIBSSH2_ERROR_EAGAIN) return;
    kill_ = Kill::kSent;
  }
}

void SshSession::Fail(std::string error) {
  if (stage_ == Stage::kDone) return;
  result_.ok = false;
  result_.error = std::move(error);
  result_.exit_status = -1;
  stage_ = Stage::kDone;
  Finish();
}

void SshSession::Finish() {
  const bool failed_early = stage_ == Stage::kDone;  // Fail() set the error
  if (!failed_early && channel_ != nullptr) {
    const bool closed = stage_ == Stage::kClosing;
    result_.exit_status = closed ? libssh2_channel_get_exit_status(channel_) : -1;
    char* signal = nullptr;
    size_t signal_len = 0;
    if (closed) {
      libssh2_channel_get_exit_signal(channel_, &signal, &signal_len, nullptr, nullptr, nullptr,
                                      nullptr);
    }
    std::string sig = signal != nullptr ? std::string(signal, signal_len) : "";
    if (signal != nullptr) libssh2_free(session_, signal);
    if (!sig.empty()) result_.exit_status = -1;
    if (stopping_) {
      result_.ok = false;
      result_.error = stop_reason_ + (sig.empty() ? closed ? "" : "; the command did not end in time"
                                                  : "; the command ended by signal " + sig);
    } else if (!sig.empty()) {
      result_.ok = false;
      result_.error = "killed by signal " + sig;
    } else if (result_.exit_status != 0) {
      result_.ok = false;
      result_.error = "exit status " + std::to_string(result_.exit_status);
    } else {
      result_.ok = true;
    }
  }
  stage_ = Stage::kDone;
  out_lines_.Flush([&](std::string_view line, bool continues) {
    sink_(address_.spec, false, line, continues);
  });
  if (!marker_done_) {
    marker_done_ = true;
    if (!marker_buf_.empty()) OnData(true, std::exchange(marker_buf_, std::string()));
  }
  err_lines_.Flush([&](std::string_view line, bool continues) {
    sink_(address_.spec, true, line, continues);
  });
  result_.duration = std::chrono::duration_cast<Duration>(Clock::now() - started_);
  result_.stdout_text = std::move(out_tail_).Take();
  result_.stderr_text = std::move(err_tail_).Take();
  Release();
}

void SshSession::Release() {
  if (session_ != nullptr) {
    if (handshaken_) libssh2_session_disconnect(session_, "done");  // one try; never waits
    // With the socket shut, freeing cannot wait on the network.
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    libssh2_session_set_blocking(session_, 1);
    if (agent_ != nullptr) {
      libssh2_agent_disconnect(agent_);
      libssh2_agent_free(agent_);
      agent_ = nullptr;
    }
    if (kill_channel_ != nullptr) libssh2_channel_free(kill_channel_);
    if (channel_ != nullptr) libssh2_channel_free(channel_);
    kill_channel_ = channel_ = nullptr;
    libssh2_session_free(session_);
    session_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

}  // namespace runbook
