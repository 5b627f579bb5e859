#include "web/accounts.h"

#include <crypt.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "app/approval_policy.h"
#include "app/atomic_file.h"

namespace runbook::web {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The name of a `name:hash` line, or "" for a comment or blank line.
std::string LineName(const std::string& line) {
  const std::string t = Trim(line);
  if (t.empty() || t[0] == '#') return "";
  return Trim(t.substr(0, t.find(':')));
}

}  // namespace

Result<std::string> HashPassword(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // A null random source: libcrypt reads the salt from the kernel (getrandom).
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt))
    return Status::Error(std::string("cannot make a yescrypt salt: ") + std::strerror(errno));
  crypt_data data;
  std::memset(&data, 0, sizeof data);
  const char* hash = crypt_rn(password.c_str(), salt, &data, sizeof data);
  if (!hash || hash[0] == '*') return Status::Error("libcrypt could not hash the password");
  return std::string(hash);
}

bool CheckPassword(const std::string& password, const std::string& hash) {
  if (hash.empty() || hash[0] != '$') return false;
  crypt_data data;
  std::memset(&data, 0, sizeof data);
  const char* made = crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
  if (!made || made[0] == '*') return false;
  const size_t n = std::strlen(made);
  if (n != hash.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(made[i] ^ hash[i]);
  return diff == 0;
}

Result<Accounts> ParseAccounts(const std::string& text, const std::string& path) {
  Accounts accounts;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t colon = t.find(':');
    const std::string where = path + ":" + std::to_string(number) + ": ";
    if (colon == std::string::npos)
      return Status::Invalid(where +
                             "expected NAME:HASH (make one with `runbook serve passwd "
                             "NAME --users " +
                             path + "`)");
    auto name = PersonName(Trim(t.substr(0, colon)));
    if (!name.ok()) return Status::Invalid(where + name.message());
    const std::string hash = Trim(t.substr(colon + 1));
    if (hash.empty() || hash[0] != '$')
      return Status::Invalid(where + "the hash of " + *name +
                             " is not a crypt(3) hash; set it "
                             "with `runbook serve passwd " +
                             *name + "`");
    accounts[*name] = hash;
  }
  return accounts;
}

Result<Accounts> LoadAccounts(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return Status::NotFound("cannot read the users file " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return ParseAccounts(text.str(), path);
}

Result<std::string> SetAccountPassword(const std::string& path, const std::string& typed,
                                       const std::string& hash) {
  auto name = PersonName(typed);
  if (!name.ok()) return name.status();
  std::vector<std::string> lines;
  if (std::ifstream in(path); in) {
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  // Check what is there before changing it: a broken file stays as it is.
  std::string old;
  for (const std::string& l : lines) old += l + "\n";
  if (auto parsed = ParseAccounts(old, path); !parsed.ok()) return parsed.status();
  std::string out;
  bool replaced = false;
  for (const std::string& line : lines) {
    const std::string n = LineName(line);
    if (!n.empty() && FoldName(n) == *name) {
      if (!replaced) out += *name + ":" + hash + "\n";
      replaced = true;
      continue;
    }
    out += line + "\n";
  }
  if (!replaced) out += *name + ":" + hash + "\n";
  if (Status s = WriteFileAtomically(path, out, /*owner_only=*/true); !s.ok()) return s;
  return *name;
}

}  // namespace runbook::web
