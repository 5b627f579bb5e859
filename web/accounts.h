// Who may use `runbook serve` (docs/serve.md): the users file, one account a line,
//
//   # comments and blank lines are ignored
//   paula:$y$j9T$...      (name:hash, the hash made by `runbook serve passwd NAME`)
//
// The hash is libcrypt's yescrypt (a slow, salted, memory-hard hash; "$y$" prefix), and a
// check compares in constant time. Which roles a user holds is not kept here: approval rules
// read them from the runbook's team file (docs/approval.md), as `runbook approve` does.
#pragma once

#include <map>
#include <string>

#include "engine/status.h"

namespace runbook::web {

/// A yescrypt hash of `password` with a fresh random salt. kFailed when libcrypt refuses.
Result<std::string> HashPassword(const std::string& password);

/// Whether `password` matches `hash` (a crypt(3) string). False for a malformed hash.
bool CheckPassword(const std::string& password, const std::string& hash);

/// Name (folded, app/approval_policy.h PersonName) -> hash.
using Accounts = std::map<std::string, std::string>;

/// Parses a users file's text; kInvalid naming the line that is not `name:hash`.
Result<Accounts> ParseAccounts(const std::string& text, const std::string& path);

/// Reads and parses the users file at `path`. kNotFound when it does not exist.
Result<Accounts> LoadAccounts(const std::string& path);

/// Sets `name`'s hash in the users file at `path` (created, mode 0600, when missing), keeping
/// every other line as it was; written atomically. Returns the folded name.
Result<std::string> SetAccountPassword(const std::string& path, const std::string& name,
                                       const std::string& hash);

}  // namespace runbook::web
