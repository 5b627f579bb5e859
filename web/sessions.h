// The server's memory of who is logged in (docs/serve.md): sessions, their CSRF tokens, and
// the login throttle. Held in memory only: restarting `runbook serve` logs everyone out,
// which is what an operator restarting it after a suspected leak wants.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace runbook::web {

/// 32 random bytes from the kernel, as 64 hex digits.
std::string RandomToken();

/// Whether `a` equals `b`, in time that does not depend on where they differ.
bool SameToken(const std::string& a, const std::string& b);

struct Session {
  std::string user;  // folded name
  std::string csrf;  // the token every form of this session carries
  std::chrono::steady_clock::time_point last_seen;
};

/// Sessions by token. The table keeps only a hash of each token, so that a memory dump does
/// not hand out live sessions. Thread-safe.
class SessionTable {
 public:
  /// A session ends after `idle` without a request.
  explicit SessionTable(std::chrono::seconds idle) : idle_(idle) {}

  /// A new session for `user`: its token (the cookie's value) and the session.
  std::pair<std::string, Session> Create(const std::string& user,
                                         std::chrono::steady_clock::time_point now);
  /// The live session of `token`, its idle clock restarted; nullopt when unknown or idle too
  /// long (then forgotten).
  std::optional<Session> Find(const std::string& token, std::chrono::steady_clock::time_point now);
  void Remove(const std::string& token);

 private:
  static constexpr size_t kMaxSessions = 10000;
  std::chrono::seconds idle_;
  std::mutex mu_;
  std::map<std::string, Session> by_hash_;
};

/// Failed logins per key (the client's address; the name tried), in a sliding window: after
/// `max_failures` within `window`, that key may not try again until the oldest failure leaves
/// the window. Thread-safe.
class LoginThrottle {
 public:
  LoginThrottle(int max_failures, std::chrono::seconds window)
      : max_failures_(max_failures), window_(window) {}

  /// Seconds until any of `keys` may try again; 0 when all may now.
  long long RetryAfter(const std::vector<std::string>& keys,
                       std::chrono::steady_clock::time_point now);
  void Failed(const std::vector<std::string>& keys, std::chrono::steady_clock::time_point now);
  /// A successful login forgets the failures of `key` (the name), not of the address.
  void Succeeded(const std::string& key);

 private:
  void Expire(std::vector<std::chrono::steady_clock::time_point>& times,
              std::chrono::steady_clock::time_point now) const;

  static constexpr size_t kMaxKeys = 100000;
  int max_failures_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

}  // namespace runbook::web
