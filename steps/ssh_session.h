// One SSH connection to one host, driven without blocking: connect, handshake, host key check,
// authentication, one `exec` channel, reading stdout and stderr until the command exits. The
// fan-out loop (ssh_fanout.h) owns many sessions and polls their sockets in one thread, so a
// fleet of 500 hosts needs 500 sockets, not 500 threads.
//
// The command and its values travel on standard input, never in the exec request: the exec
// request is always
//   echo runbook-pgid:$$ >&2; eval "$(cat)"
// and stdin carries `export RUNBOOK_VALUE_1='...'` lines followed by the step's command (see
// ShellCommand in engine/template.h), then EOF. So no value is in the argument list of any
// process on the host (SPEC section 5), and the command's own stdin is empty.
//
// Ending a remote command early. libssh2 1.10 cannot send the SSH "signal" channel request,
// and closing a channel does not end a command that writes nothing. The login shell runs the
// command as itself: sshd makes that shell a session (and process group) leader, so `$$` is
// the process group of everything the command starts. The first stderr line is taken out of
// the output. To stop the command, a second channel on the same connection runs
//   kill -TERM -PGID; (wait up to kill_grace while the group lives); kill -KILL -PGID
// which ends the whole remote process group, and keeps going on the host even once we hang up.
// This needs a POSIX-like login shell (sh, bash, dash, zsh, ksh) on the host.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"
#include "engine/status.h"
#include "engine/step_runner.h"
#include "steps/output_buffer.h"
#include "steps/ssh_address.h"

struct _LIBSSH2_SESSION;
struct _LIBSSH2_CHANNEL;
struct _LIBSSH2_AGENT;
struct libssh2_agent_publickey;

namespace runbook {

class KnownHosts;
class SshIdentity;

/// How to log in; the same for every host of a step.
struct SshLogin {
  std::string user;
  std::string identity_file;  // empty: ssh-agent ($SSH_AUTH_SOCK)
  std::string passphrase;     // for identity_file; empty: none
  /// identity_file read once for the whole step, when it is a key SshIdentity can sign with
  /// (ssh_identity.h); null: libssh2 reads identity_file for each host.
  std::shared_ptr<const SshIdentity> identity;
  HostKeyChecking host_key_checking = HostKeyChecking::kStrict;
  Duration connect_timeout{10000};  // TCP connect + SSH handshake + authentication
  Duration keepalive{0};            // 0: none
};

/// Per-stream capture limit of a host's output (the tail is kept).
inline constexpr size_t kSshTailBytes = 64 * 1024;

/// One host's connection and command. Not thread-safe: one loop drives it. Owns its socket
/// and libssh2 handles; the destructor releases them.
class SshSession {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  /// Receives each line of output (without '\n') as it arrives.
  using LineSink = std::function<void(const std::string& host, bool is_stderr,
                                      std::string_view line, bool continues)>;

  /// `known_hosts` must outlive the session; it is read, and appended to for accept-new.
  SshSession(SshAddress address, const SshLogin& login, KnownHosts& known_hosts,
             std::string command, LineSink sink);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  /// Resolves the name and starts connecting. May finish the session at once (refused).
  void Start(TimePoint now);
  /// Makes all the progress possible without blocking; call when the socket is ready or
  /// deadline() has passed.
  void Advance(TimePoint now);
  /// Ends the attempt early (step timeout, interruption). A session that has not sent its
  /// command ends at once; one whose command runs kills the remote process group and waits up
  /// to `grace` for the command to end. `reason` becomes the host's error.
  void Stop(TimePoint now, std::string reason, Duration grace);

  /// The socket to poll, or -1 once done.
  int fd() const { return fd_; }
  /// POLLIN and/or POLLOUT.
  short events() const;
  /// When Advance() must run even without I/O (connect timeout, stop grace, keepalive).
  TimePoint deadline() const;
  bool done() const { return stage_ == Stage::kDone; }
  /// The outcome; complete once done().
  const HostResult& result() const { return result_; }

 private:
  enum class Stage { kNew, kConnecting, kHandshake, kAuth, kOpen, kExec, kRunning, kClosing, kDone };
  enum class Kill { kNone, kOpen, kExec, kSent };

  bool TryConnect();
  void ConnectNext();
  bool BeginSsh();
  bool CheckHostKey();
  int Authenticate();
  int AuthenticateWithAgent();
  int AuthenticateWithIdentity();
  void ReadOutput();
  void OnData(bool is_stderr, std::string_view data);
  void DriveKill();
  void Fail(std::string error);
  void Finish();
  void Release();
  std::string SessionError() const;
  const char* Waiting() const;

  SshAddress address_;
  const SshLogin& login_;
  KnownHosts& known_hosts_;
  std::string command_;  // the exec request: reports the process group, runs stdin
  std::string script_;   // sent on stdin: the values, then the step's command
  size_t script_sent_ = 0;
  LineSink sink_;

  Stage stage_ = Stage::kNew;
  std::vector<std::vector<char>> addrs_;  // resolved sockaddrs, tried in order
  size_t next_addr_ = 0;
  std::string connect_error_;
  int fd_ = -1;
  _LIBSSH2_SESSION* session_ = nullptr;
  _LIBSSH2_CHANNEL* channel_ = nullptr;
  _LIBSSH2_CHANNEL* kill_channel_ = nullptr;
  _LIBSSH2_AGENT* agent_ = nullptr;
  libssh2_agent_publickey* identity_ = nullptr;
  int agent_keys_tried_ = 0;
  void* sign_abstract_ = nullptr;  // the SshIdentity, for libssh2's sign callback
  bool eof_sent_ = false;
  bool handshaken_ = false;

  TimePoint started_;
  TimePoint connect_deadline_;
  TimePoint keepalive_due_ = TimePoint::max();
  bool stopping_ = false;
  std::string stop_reason_;
  TimePoint stop_deadline_ = TimePoint::max();
  Duration grace_{0};
  Kill kill_ = Kill::kNone;

  long pgid_ = 0;
  bool marker_done_ = false;
  std::string marker_buf_;
  TailBuffer out_tail_{kSshTailBytes};
  TailBuffer err_tail_{kSshTailBytes};
  LineSplitter out_lines_{4096};
  LineSplitter err_lines_{4096};

  HostResult result_;
};

}  // namespace runbook
