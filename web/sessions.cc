#include "web/sessions.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "engine/sha256.h"

namespace runbook::web {

std::string RandomToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    // Without randomness no session is safe: refuse to go on rather than make a guessable one.
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<size_t>(n);
  }
  std::string hex;
  hex.reserve(64);
  for (unsigned char b : bytes) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  return hex;
}

bool SameToken(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::pair<std::string, Session> SessionTable::Create(const std::string& user,
                                                     std::chrono::steady_clock::time_point now) {
  std::string token = RandomToken();
  Session session{user, RandomToken(), now};
  std::lock_guard<std::mutex> lock(mu_);
  if (by_hash_.size() >= kMaxSessions) {
    // Forget the idle ones; when all are live, the one seen longest ago.
    for (auto it = by_hash_.begin(); it != by_hash_.end();)
      it = now - it->second.last_seen > idle_ ? by_hash_.erase(it) : std::next(it);
    if (by_hash_.size() >= kMaxSessions)
      by_hash_.erase(std::min_element(by_hash_.begin(), by_hash_.end(), [](auto& x, auto& y) {
        return x.second.last_seen < y.second.last_seen;
      }));
  }
  by_hash_[Sha256Hex(token)] = session;
  return {token, session};
}

std::optional<Session> SessionTable::Find(const std::string& token,
                                          std::chrono::steady_clock::time_point now) {
  if (token.empty()) return std::nullopt;
  const std::string key = Sha256Hex(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) return std::nullopt;
  if (now - it->second.last_seen > idle_) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen = now;
  return it->second;
}

void SessionTable::Remove(const std::string& token) {
  if (token.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  by_hash_.erase(Sha256Hex(token));
}

void LoginThrottle::Expire(std::vector<std::chrono::steady_clock::time_point>& times,
                           std::chrono::steady_clock::time_point now) const {
  times.erase(
      std::remove_if(times.begin(), times.end(), [&](auto t) { return now - t >= window_; }),
      times.end());
}

long long LoginThrottle::RetryAfter(const std::vector<std::string>& keys,
                                    std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  long long wait = 0;
  for (const std::string& key : keys) {
    auto it = failures_.find(key);
    if (it == failures_.end()) continue;
    Expire(it->second, now);
    if (static_cast<int>(it->second.size()) < max_failures_) continue;
    const auto free_at = it->second.front() + window_;
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(free_at - now).count() + 1;
    wait = std::max<long long>(wait, seconds);
  }
  return wait;
}

void LoginThrottle::Failed(const std::vector<std::string>& keys,
                           std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() >= kMaxKeys) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      Expire(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
  }
  for (const std::string& key : keys) {
    auto& times = failures_[key];
    Expire(times, now);
    times.push_back(now);
  }
}

void LoginThrottle::Succeeded(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

}  // namespace runbook::web
