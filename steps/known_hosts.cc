#include "steps/known_hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace runbook {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// OpenSSH's match_pattern: '*' is any run of characters, '?' any one character.
bool Glob(std::string_view text, std::string_view pattern) {
  size_t t = 0, p = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string Sha1Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Status ReadAll(int fd, std::string* out) {
  out->clear();
  char buf[8192];
  off_t at = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(std::strerror(errno));
    if (n == 0) return Status::Ok();
    out->append(buf, static_cast<size_t>(n));
    at += n;
  }
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::string buf(text.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (text.size() >= 1 && text[text.size() - 1] == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  buf.resize(len);
  *out = std::move(buf);
  return true;
}

std::string HostKey::Type() const {
  if (blob.size() < 4) return "unknown";
  const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
  size_t len = (size_t{b[0]} << 24) | (size_t{b[1]} << 16) | (size_t{b[2]} << 8) | b[3];
  if (len == 0 || len > 64 || 4 + len > blob.size()) return "unknown";
  std::string type = blob.substr(4, len);
  // The name is one field of a known_hosts line (accept-new writes it) and of messages: a
  // blob whose name holds a space, a newline or any other byte outside printable ASCII is
  // not a key of any type (the line written would not read back as this key).
  for (char c : type) {
    if (c <= ' ' || c > '~') return "unknown";
  }
  return type;
}

std::string HostKey::Fingerprint() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(blob.data(), blob.size(), md, &len, EVP_sha256(), nullptr);
  std::string b64 = Base64Encode(std::string_view(reinterpret_cast<char*>(md), len));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::string HostKey::Base64() const { return Base64Encode(blob); }

std::string KnownHostsName(std::string_view host, int port) {
  if (port == 22) return Lower(host);
  return "[" + Lower(host) + "]:" + std::to_string(port);
}

bool KnownHosts::ParseLine(std::string_view line, Entry* entry) {
  std::vector<std::string_view> f = Fields(line);
  if (f.empty() || f[0][0] == '#') return false;
  size_t i = 0;
  if (f[0][0] == '@') {
    if (f[0] == "@revoked") {
      entry->marker = Entry::Marker::kRevoked;
    } else {
      return false;  // @cert-authority, or a marker we do not know
    }
    ++i;
  }
  if (f.size() < i + 3) return false;
  std::string_view names = f[i], type = f[i + 1], key = f[i + 2];
  if (names.substr(0, 3) == "|1|") {
    std::string_view rest = names.substr(3);
    size_t bar = rest.find('|');
    if (bar == std::string_view::npos) return false;
    if (!Base64Decode(rest.substr(0, bar), &entry->salt)) return false;
    if (!Base64Decode(rest.substr(bar + 1), &entry->hash)) return false;
  } else {
    size_t start = 0;
    while (start <= names.size()) {
      size_t comma = names.find(',', start);
      if (comma == std::string_view::npos) comma = names.size();
      if (comma > start) entry->patterns.push_back(Lower(names.substr(start, comma - start)));
      start = comma + 1;
    }
    if (entry->patterns.empty()) return false;
  }
  entry->type = std::string(type);
  return Base64Decode(key, &entry->blob);
}

KnownHosts KnownHosts::Parse(std::string_view text, std::string path) {
  KnownHosts out;
  out.path_ = std::move(path);
  int number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Entry entry;
    entry.line = number;
    if (ParseLine(line, &entry)) {
      out.entries_.push_back(std::move(entry));
      out.Index(out.entries_.size() - 1);
    }
  }
  return out;
}

Result<KnownHosts> KnownHosts::Load(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Parse("", path);
    return Result<KnownHosts>::Error("cannot read known_hosts file " + path + ": " +
                                     std::strerror(errno));
  }
  std::string text;
  Status read = ReadAll(fd, &text);
  close(fd);
  if (!read.ok()) {
    return Result<KnownHosts>::Error("cannot read known_hosts file " + path + ": " +
                                     read.message());
  }
  return Parse(text, path);
}

void KnownHosts::Index(size_t i) {
  const Entry& e = entries_[i];
  const bool plain = e.hash.empty() && !e.patterns.empty() &&
                     std::all_of(e.patterns.begin(), e.patterns.end(), [](const std::string& p) {
                       return !p.empty() && p[0] != '!' && p.find_first_of("*?") == p.npos;
                     });
  if (!plain) {
    scanned_.push_back(i);
    return;
  }
  for (const std::string& p : e.patterns) {
    std::vector<size_t>& list = by_name_[p];
    if (list.empty() || list.back() != i) list.push_back(i);
  }
}

std::vector<size_t> KnownHosts::Candidates(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return scanned_;
  std::vector<size_t> out;
  out.reserve(it->second.size() + scanned_.size());
  std::merge(it->second.begin(), it->second.end(), scanned_.begin(), scanned_.end(),
             std::back_inserter(out));
  return out;
}

bool KnownHosts::Names(const Entry& entry, const std::string& name) const {
  if (!entry.hash.empty()) return Sha1Hmac(entry.salt, name) == entry.hash;
  bool matched = false;
  for (const std::string& pattern : entry.patterns) {
    if (!pattern.empty() && pattern[0] == '!') {
      if (Glob(name, std::string_view(pattern).substr(1))) return false;
    } else if (Glob(name, pattern)) {
      matched = true;
    }
  }
  return matched;
}

HostKeyCheck KnownHosts::Check(std::string_view host, int port, const HostKey& key) const {
  const std::string name = KnownHostsName(host, port);
  const std::string offered =
      name + " offered " + key.Type() + " key " + key.Fingerprint();
  const Entry* conflicting = nullptr;
  bool known = false;
  for (size_t i : Candidates(name)) {
    const Entry& e = entries_[i];
    if (!Names(e, name)) continue;
    if (e.marker == Entry::Marker::kRevoked) {
      if (e.blob == key.blob) {
        return {HostKeyMatch::kRevoked, "revoked host key: " + offered + ", marked @revoked at " +
                                            path_ + ":" + std::to_string(e.line)};
      }
      continue;
    }
    if (e.blob == key.blob) known = true;
    if (e.blob != key.blob && conflicting == nullptr) conflicting = &e;
  }
  if (known) return {HostKeyMatch::kMatch, ""};
  if (conflicting != nullptr) {
    return {HostKeyMatch::kMismatch,
            "host key mismatch: " + offered + ", but " + path_ + ":" +
                std::to_string(conflicting->line) + " holds a different " + conflicting->type +
                " key for it (the host was reinstalled, or someone is in the middle; remove "
                "the old line only once you know which)"};
  }
  return {HostKeyMatch::kUnknown, "unknown host key: " + offered + ", which is not in " + path_ +
                                      " (strict host key checking; add the key to known_hosts,"
                                      " or set host_key_checking: accept-new)"};
}

std::vector<std::string> KnownHosts::KnownTypes(std::string_view host, int port) const {
  const std::string name = KnownHostsName(host, port);
  std::vector<std::string> types;
  for (size_t i : Candidates(name)) {
    const Entry& e = entries_[i];
    if (e.marker == Entry::Marker::kRevoked || !Names(e, name)) continue;
    std::string type = HostKey{e.blob}.Type();
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }
  return types;
}

Result<HostKeyCheck> KnownHosts::AcceptNew(std::string_view host, int port, const HostKey& key) {
  const std::string where = "known_hosts file " + path_ + ": ";
  size_t slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path_.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Result<HostKeyCheck>::Error("cannot create the folder of the " + where +
                                         std::strerror(errno));
    }
  }
  int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Result<HostKeyCheck>::Error("cannot open " + where + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }  // also drops the flock
  } closer{fd};
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return Result<HostKeyCheck>::Error("cannot lock " + where + std::strerror(errno));
  }
  std::string text;
  if (Status s = ReadAll(fd, &text); !s.ok()) {
    return Result<HostKeyCheck>::Error("cannot read " + where + s.message());
  }
  *this = Parse(text, path_);
  HostKeyCheck check = Check(host, port, key);
  if (check.match != HostKeyMatch::kUnknown) return check;

  std::string line = KnownHostsName(host, port) + " " + key.Type() + " " + key.Base64() + "\n";
  if (!text.empty() && text.back() != '\n') line.insert(0, "\n");
  if (Status s = WriteAll(fd, line); !s.ok()) {
    return Result<HostKeyCheck>::Error("cannot append to " + where + s.message());
  }
  if (fsync(fd) != 0) return Result<HostKeyCheck>::Error("cannot sync " + where + std::strerror(errno));
  *this = Parse(text + line, path_);
  return check;
}

}  // namespace runbook
