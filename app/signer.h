// Signatures on plan approvals (docs/approval.md), behind a small interface so that the
// approval service can be tested with a fake.
//
// The real signer uses OpenSSH's own `ssh-keygen -Y sign` / `ssh-keygen -Y verify`, so that the
// format is the standard "SSH signature" (SSHSIG) and approvers can check one by hand:
//
//   printf %s PLAN_HASH | ssh-keygen -Y verify -f ALLOWED_SIGNERS -I NAME -n runbook-plan -s SIG
//
// The signed message is the plan hash (64 hex digits, no newline) in the namespace
// `runbook-plan`, so a signature cannot be replayed as a signature for another purpose.
#pragma once

#include <memory>
#include <string>

#include "engine/status.h"

namespace runbook {

/// The SSHSIG namespace of approval signatures.
inline constexpr const char* kApprovalSignatureNamespace = "runbook-plan";

class Signer {
 public:
  virtual ~Signer() = default;
  /// Signs `message` with the private key at `key_path`. Returns the armoured signature
  /// ("-----BEGIN SSH SIGNATURE-----..."), or an error saying why not.
  virtual Result<std::string> Sign(const std::string& key_path, const std::string& message) = 0;
  /// Ok when `signature` is a valid signature of `message` by a key that `allowed_signers`
  /// lists for `identity`; otherwise an error saying why not.
  virtual Status Verify(const std::string& allowed_signers, const std::string& identity,
                        const std::string& message, const std::string& signature) = 0;
};

/// The signer on `ssh-keygen` (run with a fixed argv, no shell, the message on its stdin).
/// A key with a passphrase makes ssh-keygen ask on the terminal, so it runs in the
/// foreground process group. Errors carry ssh-keygen's own reason.
std::unique_ptr<Signer> MakeSshKeygenSigner();

}  // namespace runbook
