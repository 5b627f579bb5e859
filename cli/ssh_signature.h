// SSH signatures on plan approvals (docs/approval.md), made and checked by OpenSSH's own
// `ssh-keygen -Y sign` / `ssh-keygen -Y verify` so that the format is the standard "SSH
// signature" (SSHSIG) and approvers can check one by hand:
//
//   printf %s PLAN_HASH | ssh-keygen -Y verify -f ALLOWED_SIGNERS -I NAME -n runbook-plan -s SIG
//
// The signed message is the plan hash (64 hex digits, no newline) in the namespace
// `runbook-plan`, so a signature cannot be replayed as a signature for another purpose. The
// child runs with a fixed argv (no shell) and the message on its stdin.
#pragma once

#include <string>

#include "engine/status.h"

namespace runbook::cli {

/// The SSHSIG namespace of approval signatures.
inline constexpr const char* kApprovalSignatureNamespace = "runbook-plan";

/// Signs `message` with the private key at `key_path` (or the public key, when the private
/// key is in ssh-agent). Returns the armoured signature ("-----BEGIN SSH SIGNATURE-----...").
/// A key with a passphrase makes ssh-keygen ask on the terminal, so the child stays in our
/// process group. Errors carry ssh-keygen's own message.
Result<std::string> SshSign(const std::string& key_path, const std::string& message);

/// Checks that `signature` is a valid signature of `message` by a key that `allowed_signers`
/// lists for `identity` (ssh-keygen's allowed_signers format, see ssh-keygen(1)). Ok, or an
/// error saying why not.
Status SshVerify(const std::string& allowed_signers, const std::string& identity,
                 const std::string& message, const std::string& signature);

}  // namespace runbook::cli
