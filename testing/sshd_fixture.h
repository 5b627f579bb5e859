// A real OpenSSH server for the ssh tests: /usr/sbin/sshd on a free port, listening on
// 127.0.0.1 .. 127.0.0.N so that each address stands for one host, with host and client keys
// made by the test. Also small helpers the ssh tests share (free port, shell, waiting).
#pragma once

#include "testing/temp_dir.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace runbook::testing {

/// Runs `command` with /bin/sh and returns its stdout; `status` gets the exit status.
inline std::string ShOutput(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (status != nullptr) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

/// A TCP port on 127.0.0.1 that nothing listens on (at the time of the call).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

/// True when something accepts TCP connections on `address`:`port`.
inline bool Listening(const std::string& address, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

/// True while a process runs whose argv is exactly `argv` (read from /proc).
inline bool ProcessWithArgvRuns(const std::vector<std::string>& argv) {
  std::string want;
  for (const std::string& a : argv) want += a + std::string(1, '\0');
  DIR* d = opendir("/proc");
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (ReadFile(std::string("/proc/") + e->d_name + "/cmdline") == want) found = true;
  }
  closedir(d);
  return found;
}

/// Waits up to `seconds` for `done()` to become true.
template <typename F>
bool WaitUntil(F done, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

/// The test sshd. Keys: `host` (the server's), `client` (authorized), `other` (not authorized;
/// also the "wrong" host key), `rsa` (authorized, passphrase `rsa_passphrase`).
class TestSshd {
 public:
  /// `allow_ssh_rsa`: accept RSA signatures made with SHA-1 (what libssh2 1.10 sends).
  /// `extra_config`: more sshd_config lines.
  explicit TestSshd(int count = 3, bool allow_ssh_rsa = true, std::string extra_config = "")
      : allow_ssh_rsa_(allow_ssh_rsa), extra_config_(std::move(extra_config)) {
    if (access(kSshd, X_OK) != 0) {
      error_ = std::string("no ") + kSshd + " (scripts/setup.sh installs openssh-server)";
      return;
    }
    mkdir("/run/sshd", 0755);
    for (const char* k : {"host", "client", "other"}) {
      Run("ssh-keygen -q -t ed25519 -N '' -C test -f " + dir_ / k);
    }
    Run("ssh-keygen -q -t rsa -b 2048 -N '" + rsa_passphrase + "' -C test -f " + dir_ / "rsa");
    if (!error_.empty()) return;
    WriteFile(dir_ / "authorized_keys", ReadFile(dir_ / "client.pub") + ReadFile(dir_ / "rsa.pub"));
    for (int i = 1; i <= count; ++i) addresses.push_back("127.0.0." + std::to_string(i));
    host_key = PublicKey("host");
    other_key = PublicKey("other");
    for (int attempt = 0; attempt < 5 && pids_.empty(); ++attempt) {
      error_.clear();
      StartOn(FreeLoopbackPort());
    }
    for (const std::string& a : addresses) specs.push_back(a + ":" + std::to_string(port));
    WriteFile(dir_ / "known_hosts", KnownHostsFor(host_key));
    WriteFile(dir_ / "wrong_known_hosts", KnownHostsFor(other_key));
    WriteFile(dir_ / "empty_known_hosts", "");
  }
  ~TestSshd() { Kill(); }
  TestSshd(const TestSshd&) = delete;
  TestSshd& operator=(const TestSshd&) = delete;

  bool ok() const { return !pids_.empty(); }
  /// Why the server did not start (empty when ok()).
  const std::string& error() const { return error_; }
  std::string path(const std::string& name) const { return dir_ / name; }
  /// "[127.0.0.1]:PORT keytype base64\n..." for every address.
  std::string KnownHostsFor(const std::string& key) const {
    std::string out;
    for (const std::string& a : addresses)
      out += "[" + a + "]:" + std::to_string(port) + " " + key + "\n";
    return out;
  }

  int port = 0;
  std::vector<std::string> addresses;  // 127.0.0.1 ...
  std::vector<std::string> specs;      // "127.0.0.1:PORT" ...
  std::string host_key;                // "ssh-ed25519 AAAA..."
  std::string other_key;
  std::string rsa_passphrase = "correct horse";

 private:
  /// Stops the server (the listener; open connections end with their clients).
  void Kill() {
    for (pid_t pid : pids_) kill(pid, SIGTERM);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
    pids_.clear();
  }

  void Run(const std::string& command) {
    int status = 0;
    ShOutput(command + " >/dev/null 2>&1", &status);
    if (status != 0 && error_.empty()) error_ = "failed: " + command;
  }

  std::string PublicKey(const std::string& name) const {
    std::istringstream in(ReadFile(dir_ / (name + ".pub")));
    std::string type, blob;
    in >> type >> blob;
    return type + " " + blob;
  }

  // sshd listens on at most 16 addresses (MAX_LISTEN_SOCKS), so larger fleets get one server
  // process per 16 addresses, all on the same port.
  void StartOn(int candidate) {
    port = candidate;
    for (size_t first = 0; first < addresses.size() && error_.empty(); first += 16) {
      const std::string n = std::to_string(first / 16);
      std::string config = "Port " + std::to_string(port) + "\n";
      for (size_t i = first; i < addresses.size() && i < first + 16; ++i) {
        config += "ListenAddress " + addresses[i] + "\n";
      }
      config += "HostKey " + dir_ / "host" + "\nAuthorizedKeysFile " + dir_ / "authorized_keys" +
                "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPidFile " +
                dir_ / ("sshd" + n + ".pid") + "\nStrictModes no\nUsePAM no\n" +
                "MaxStartups 500\nMaxSessions 50\nLogLevel ERROR\n" +
                // libssh2 1.10 signs with RSA keys only as ssh-rsa (SHA-1); see docs/ssh.md.
                (allow_ssh_rsa_ ? "PubkeyAcceptedAlgorithms +ssh-rsa\n" : "") + extra_config_;
      WriteFile(dir_ / ("sshd" + n + ".config"), config);
      pid_t pid = fork();
      if (pid == 0) {
        int log = open((dir_ / "sshd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(log, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        std::string cfg = dir_ / ("sshd" + n + ".config");
        execl(kSshd, kSshd, "-D", "-e", "-f", cfg.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      pids_.push_back(pid);
    }
    bool died = false;
    bool up = WaitUntil(
        [&] {
          for (pid_t pid : pids_) {
            if (waitpid(pid, nullptr, WNOHANG) == pid) return died = true;  // port taken?
          }
          for (const std::string& a : addresses) {
            if (!Listening(a, port)) return false;
          }
          return true;
        },
        10);
    if (!up || died) {
      error_ = "sshd did not start: " + ReadFile(dir_ / "sshd.log");
      Kill();
    }
  }

  static constexpr const char* kSshd = "/usr/sbin/sshd";

  bool allow_ssh_rsa_ = true;
  std::string extra_config_;
  TempDir dir_;
  std::vector<pid_t> pids_;
  std::string error_;
};

}  // namespace runbook::testing
