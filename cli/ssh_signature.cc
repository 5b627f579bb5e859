#include "cli/ssh_signature.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace runbook::cli {
namespace {

struct KeygenResult {
  int exit_status = -1;  // 128+signal when a signal ended it
  std::string out;
  std::string err;
};

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The last non-empty line of ssh-keygen's stderr: its reason, without the chatter before it.
std::string Reason(const std::string& err) {
  std::string text = err;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// Runs ssh-keygen with `args` and `input` on its stdin; drains stdout and stderr together;
// kills it after `timeout` (zero: no limit, for a passphrase prompt). The child stays in our
// process group so that it can prompt on the terminal and gets the operator's Ctrl-C too.
Result<KeygenResult> RunSshKeygen(const std::vector<std::string>& args, const std::string& input,
                                  std::chrono::milliseconds timeout) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Result<KeygenResult>::Error(ErrnoText("pipe"));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return Result<KeygenResult>::Error(ErrnoText("pipe"));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return Result<KeygenResult>::Error(ErrnoText("pipe"));
  }
  auto close_all = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) close(fd);
  };
  // The message is far smaller than a pipe's buffer: write it all before the child starts.
  if (input.size() > 4096 ||
      write(in[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    close_all();
    return Result<KeygenResult>::Error("cannot pass the message to ssh-keygen");
  }
  close(in[1]);
  in[1] = -1;

  std::vector<std::string> argv_strings = {"ssh-keygen"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    close_all();
    return Result<KeygenResult>::Error(ErrnoText("fork"));
  }
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv.data());
    const char* msg = "cannot run ssh-keygen (install openssh-client): ";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, msg, std::strlen(msg));
    n = write(STDERR_FILENO, std::strerror(errno), std::strlen(std::strerror(errno)));
    _exit(127);
  }
  close(in[0]), close(out[1]), close(err[1]);
  in[0] = out[1] = err[1] = -1;

  KeygenResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_streams = 2;
  while (open_streams > 0) {
    int wait_ms = -1;
    if (timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_streams;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
    }
  }
  close(out[0]), close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Result<KeygenResult>::Error("ssh-keygen did not finish in time");
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

Result<std::string> SshSign(const std::string& key_path, const std::string& message) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(key_path, ec))
    return Result<std::string>::Error("no key file at " + key_path);
  auto r = RunSshKeygen({"-Y", "sign", "-f", key_path, "-n", kApprovalSignatureNamespace}, message,
                        std::chrono::milliseconds(0));
  if (!r.ok()) return r.status();
  if (r->exit_status != 0 || r->out.find("-----BEGIN SSH SIGNATURE-----") == std::string::npos)
    return Result<std::string>::Error("ssh-keygen could not sign with " + key_path + ": " +
                                      Reason(r->err));
  return r->out;
}

Status SshVerify(const std::string& allowed_signers, const std::string& identity,
                 const std::string& message, const std::string& signature) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(allowed_signers, ec))
    return Status::Error("allowed_signers file " + allowed_signers + " does not exist");
  std::string sig_path =
      (std::filesystem::temp_directory_path(ec) / "runbook-approval-XXXXXX.sig").string();
  const int fd = mkstemps(sig_path.data(), 4);
  if (fd < 0) return Status::Error(ErrnoText("cannot create a temporary file"));
  const bool written =
      write(fd, signature.data(), signature.size()) == static_cast<ssize_t>(signature.size());
  close(fd);
  if (!written) {
    unlink(sig_path.c_str());
    return Status::Error("cannot write the signature to " + sig_path);
  }
  auto r = RunSshKeygen({"-Y", "verify", "-f", allowed_signers, "-I", identity, "-n",
                         kApprovalSignatureNamespace, "-s", sig_path},
                        message, std::chrono::seconds(30));
  unlink(sig_path.c_str());
  if (!r.ok()) return r.status();
  if (r->exit_status != 0) {
    std::string why = Reason(r->err);
    if (why.empty()) why = Reason(r->out);  // "Could not verify signature." goes to stdout
    if (why.empty()) why = "exit status " + std::to_string(r->exit_status);
    return Status::Error("the signature is not one by a key that " + allowed_signers +
                         " lists for '" + identity + "' (ssh-keygen: " + why + ")");
  }
  return Status::Ok();
}

}  // namespace runbook::cli
