// A TCP proxy on loopback that a test can cut and mend: a network partition between a client
// and a real server (the PostgreSQL store's "database out of reach mid-run", docs/team.md).
// While cut, the connections it carried are closed and new ones are refused (nothing listens
// on its port), as when a link or a proxy goes down; mended, it listens on the same port
// again.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace runbook::testing {

class TcpProxy {
 public:
  /// Forwards 127.0.0.1:port() to 127.0.0.1:`upstream_port`. ok() says whether it listens.
  explicit TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
    if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) return;
    listen_fd_ = Listen(0);
    if (listen_fd_ < 0) return;
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    Wake();
    if (thread_.joinable()) thread_.join();
    CloseAll();
    if (listen_fd_ >= 0) close(listen_fd_);
    for (int fd : wake_)
      if (fd >= 0) close(fd);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }

  /// Closes every connection and stops listening: connecting is refused until Mend().
  /// Returns once that is done.
  void Cut() { Set(true); }
  /// Listens again on the same port; returns once it does.
  void Mend() { Set(false); }

 private:
  struct Pair {
    int client;
    int server;
  };

  static int Listen(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  int Connect() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  void Set(bool cut) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cut_ = cut;
    }
    Wake();
    while (listening_.load() == cut) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void Wake() {
    const char byte = 1;
    [[maybe_unused]] ssize_t n = write(wake_[1], &byte, 1);
  }

  void CloseAll() {
    for (const Pair& p : pairs_) {
      close(p.client);
      close(p.server);
    }
    pairs_.clear();
  }

  // Copies what `from` has to `to`; false when either end is done.
  static bool Pump(int from, int to) {
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  void Loop() {
    while (!stop_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cut_ && listen_fd_ >= 0) {
          CloseAll();
          close(listen_fd_);
          listen_fd_ = -1;
        } else if (!cut_ && listen_fd_ < 0) {
          listen_fd_ = Listen(port_);
        }
        listening_.store(listen_fd_ >= 0);
      }
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
      if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
      const size_t first_pair = fds.size();
      for (const Pair& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
      if (fds[0].revents) {
        char drain[64];
        while (read(wake_[0], drain, sizeof drain) > 0) {
        }
        continue;  // look at cut_ again first
      }
      if (listen_fd_ >= 0 && fds[1].revents) {
        int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          int server = Connect();
          if (server < 0) {
            close(client);
          } else {
            pairs_.push_back({client, server});
          }
        }
        continue;
      }
      std::vector<Pair> alive;
      for (size_t i = 0; i < pairs_.size(); ++i) {
        const pollfd& c = fds[first_pair + 2 * i];
        const pollfd& s = fds[first_pair + 2 * i + 1];
        bool ok = true;
        if (c.revents) ok = Pump(pairs_[i].client, pairs_[i].server);
        if (ok && s.revents) ok = Pump(pairs_[i].server, pairs_[i].client);
        if (ok) {
          alive.push_back(pairs_[i]);
        } else {
          close(pairs_[i].client);
          close(pairs_[i].server);
        }
      }
      pairs_ = std::move(alive);
    }
  }

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{true};
  std::mutex mu_;
  bool cut_ = false;  // guarded by mu_
  std::vector<Pair> pairs_;  // the loop thread's own
  std::thread thread_;
};

}  // namespace runbook::testing
