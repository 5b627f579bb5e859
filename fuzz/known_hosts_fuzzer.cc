// Feeds: the input as the text of a known_hosts file to KnownHosts::Parse (markers, hashed
// `|1|salt|hmac` names, patterns with `*`, `?` and `!`, `[host]:port`, base64 keys), then
// looks up, on port 22 and on another port, each name the file's lines start with against
// each key they hold and a key they do not (Check, KnownTypes), as an SSH step does before it
// trusts a host.
//
// Checks, beyond "does not crash, hang or leak": only a match comes without a message; a
// line for a host and key, appended as accept-new writes it, makes that host known (matched,
// mismatched or revoked: never unknown); and base64 reads back what it wrote, for each key and
// for the input itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "steps/known_hosts.h"

namespace runbook {
namespace {

constexpr size_t kMaxNames = 8;
constexpr size_t kMaxKeys = 4;

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// A name that can be written in a known_hosts line as it is: what accept-new writes for a
// host a runbook names.
std::string PlainName(std::string_view text) {
  std::string out;
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-') out += c;
  }
  return out.empty() ? "web1" : out;
}

void CheckBase64(std::string_view data) {
  std::string back;
  FUZZ_CHECK(data.empty() || (Base64Decode(Base64Encode(data), &back) && back == data));
}

}  // namespace
}  // namespace runbook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runbook;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const KnownHosts hosts = KnownHosts::Parse(text, "fuzz_known_hosts");

  std::vector<std::string> names;
  std::vector<HostKey> keys;
  for (std::string_view rest = text; !rest.empty() && names.size() < kMaxNames;) {
    const size_t nl = rest.find('\n');
    const std::vector<std::string_view> f = Fields(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    const size_t at = !f.empty() && f[0][0] == '@' ? 1 : 0;
    if (f.size() <= at) continue;
    std::string_view list = f[at];
    while (!list.empty() && names.size() < kMaxNames) {
      const size_t comma = list.find(',');
      names.emplace_back(list.substr(0, comma));
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    }
    HostKey key;
    if (f.size() > at + 2 && keys.size() < kMaxKeys && Base64Decode(f[at + 2], &key.blob)) {
      keys.push_back(key);
    }
  }
  // A key no line holds: ssh-ed25519 with 32 zero bytes.
  HostKey other;
  other.blob = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, '\0');
  keys.push_back(other);
  if (names.empty()) names.emplace_back("web1");

  for (const std::string& name : names) {
    for (int port : {22, 2222}) {
      (void)hosts.KnownTypes(name, port);
      for (const HostKey& key : keys) {
        const HostKeyCheck check = hosts.Check(name, port, key);
        FUZZ_CHECK((check.match == HostKeyMatch::kMatch) == check.message.empty());
      }
    }
  }

  const std::string host = PlainName(names.front());
  for (const HostKey& key : keys) {
    CheckBase64(key.blob);
    if (key.blob.empty()) continue;
    for (int port : {22, 2222}) {
      const std::string appended = std::string(text) + "\n" + KnownHostsName(host, port) + " " +
                                   key.Type() + " " + key.Base64() + "\n";
      const HostKeyCheck check = KnownHosts::Parse(appended).Check(host, port, key);
      FUZZ_CHECK(check.match != HostKeyMatch::kUnknown);
    }
  }
  CheckBase64(text);
  return 0;
}
