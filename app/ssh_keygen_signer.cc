#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "app/signer.h"
#include "steps/process.h"

namespace runbook {
namespace {

// The last non-empty line of ssh-keygen's output: its reason, without the chatter before it.
std::string Reason(const std::string& text_in) {
  std::string text = text_in;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// A temporary file holding `data`, removed when this goes out of scope.
class TempFile {
 public:
  static Result<std::unique_ptr<TempFile>> Create(const std::string& data, const char* suffix) {
    std::error_code ec;
    std::string path =
        (std::filesystem::temp_directory_path(ec) / ("runbook-approval-XXXXXX" + std::string(suffix)))
            .string();
    const int fd = mkstemps(path.data(), static_cast<int>(std::strlen(suffix)));
    if (fd < 0)
      return Status::IOError(std::string("cannot create a temporary file: ") + std::strerror(errno));
    auto file = std::unique_ptr<TempFile>(new TempFile(path));
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fd);
        return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    close(fd);
    return file;
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Runs ssh-keygen with `args` and `input` on its stdin.
Result<ProcessResult> RunSshKeygen(const std::vector<std::string>& args, const std::string& input,
                                   Duration timeout) {
  auto in = TempFile::Create(input, ".msg");
  if (!in.ok()) return in.status();
  ProcessSpec spec;
  spec.argv = {"ssh-keygen"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.stdin_file = (*in)->path();
  spec.foreground = true;
  spec.timeout = timeout;
  spec.kill_grace = Duration(1000);
  ProcessResult r = RunProcess(spec, -1);
  if (r.spawn_failed)
    return Status::Error("cannot run ssh-keygen (install openssh-client): " + r.error);
  if (r.timed_out) return Status::Error("ssh-keygen did not finish in time");
  return r;
}

class SshKeygenSigner : public Signer {
 public:
  Result<std::string> Sign(const std::string& key_path, const std::string& message) override {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(key_path, ec))
      return Status::NotFound("no key file at " + key_path);
    auto r = RunSshKeygen({"-Y", "sign", "-f", key_path, "-n", kApprovalSignatureNamespace},
                          message, Duration(0));
    if (!r.ok()) return r.status();
    if (r->exit_status != 0 ||
        r->stdout_tail.find("-----BEGIN SSH SIGNATURE-----") == std::string::npos)
      return Status::Refused("ssh-keygen could not sign with " + key_path + ": " +
                             Reason(r->stderr_tail));
    return r->stdout_tail;
  }

  Status Verify(const std::string& allowed_signers, const std::string& identity,
                const std::string& message, const std::string& signature) override {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(allowed_signers, ec))
      return Status::NotFound("allowed_signers file " + allowed_signers + " does not exist");
    auto sig = TempFile::Create(signature, ".sig");
    if (!sig.ok()) return sig.status();
    auto r = RunSshKeygen({"-Y", "verify", "-f", allowed_signers, "-I", identity, "-n",
                           kApprovalSignatureNamespace, "-s", (*sig)->path()},
                          message, Duration(30000));
    if (!r.ok()) return r.status();
    if (r->exit_status != 0) {
      std::string why = Reason(r->stderr_tail);
      if (why.empty()) why = Reason(r->stdout_tail);  // "Could not verify signature." is on stdout
      if (why.empty()) why = "exit status " + std::to_string(r->exit_status);
      return Status::Refused("the signature is not one by a key that " + allowed_signers +
                             " lists for '" + identity + "' (ssh-keygen: " + why + ")");
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Signer> MakeSshKeygenSigner() { return std::make_unique<SshKeygenSigner>(); }

}  // namespace runbook
