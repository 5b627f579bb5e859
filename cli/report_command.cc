// `runbook report RUN_ID --out F.html`: the post-mortem report (audit/report.h), written
// atomically so that a reader never sees half a file and an old report survives a failure.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "audit/report.h"
#include "cli/commands.h"

namespace runbook::cli {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// Writes `data` to `path` by write-temp, fsync, rename, then fsyncs the folder so that the
// rename itself is durable.
Status WriteFileAtomically(const std::string& path, const std::string& data) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string temp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0) return Status::Error("cannot create a file in " + dir.string() + ": " + ErrnoText());
  auto fail = [&](const std::string& what) {
    const std::string why = what + ": " + ErrnoText();
    close(fd);
    unlink(temp.c_str());
    return Status::Error(why);
  };
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write " + temp);
    done += static_cast<size_t>(n);
  }
  // mkstemp makes the file 0600; a report is for sharing, so use the usual 0644 (minus umask).
  const mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0644 & ~mask) != 0) return fail("cannot set the mode of " + temp);
  if (fsync(fd) != 0) return fail("cannot flush " + temp);
  if (close(fd) != 0) {
    const std::string why = "cannot close " + temp + ": " + ErrnoText();
    unlink(temp.c_str());
    return Status::Error(why);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = "cannot rename " + temp + " to " + path + ": " + ErrnoText();
    unlink(temp.c_str());
    return Status::Error(why);
  }
  if (const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    (void)fsync(dfd);  // best effort: some file systems cannot fsync a folder
    close(dfd);
  }
  return Status::Ok();
}

}  // namespace

int Report(const GlobalOptions& global, const std::string& run_id, const std::string& out) {
  if (out.empty()) {
    PrintError("--out needs a file name, e.g. --out report.html");
    return kExitInvalid;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec)) {
    PrintError("--out " + out + " is a folder; give a file name, e.g. --out " +
               (std::filesystem::path(out) / (run_id + ".html")).string());
    return kExitInvalid;
  }
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto run = store->GetRun(run_id);
  if (!run.ok()) {
    PrintError(run.message() + " (see `runbook runs` for the recorded runs)");
    return kExitInvalid;
  }
  auto events = store->Events(run_id);
  if (!events.ok()) {
    PrintError(events.message());
    return kExitInvalid;
  }
  const std::string html = RenderPostmortemHtml(*run, *events);
  if (Status s = WriteFileAtomically(out, html); !s.ok()) {
    PrintError("cannot write the report: " + s.message());
    return kExitInvalid;
  }
  std::printf("wrote the post-mortem report of run %s (%s, %s) to %s\n", run_id.c_str(),
              run->runbook.c_str(), run->state.empty() ? "unfinished" : run->state.c_str(),
              out.c_str());
  return kExitOk;
}

}  // namespace runbook::cli
