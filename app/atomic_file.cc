#include "app/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace runbook {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& data, bool owner_only) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string temp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0) return Status::IOError("cannot create a file in " + dir.string() + ": " + ErrnoText());
  auto fail = [&](const std::string& what) {
    const std::string why = what + ": " + ErrnoText();
    close(fd);
    unlink(temp.c_str());
    return Status::IOError(why);
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
  if (fchmod(fd, owner_only ? 0600 : (0644 & ~mask)) != 0) return fail("cannot set the mode of " + temp);
  if (fsync(fd) != 0) return fail("cannot flush " + temp);
  if (close(fd) != 0) {
    const std::string why = "cannot close " + temp + ": " + ErrnoText();
    unlink(temp.c_str());
    return Status::IOError(why);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = "cannot rename " + temp + " to " + path + ": " + ErrnoText();
    unlink(temp.c_str());
    return Status::IOError(why);
  }
  if (const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    (void)fsync(dfd);  // best effort: some file systems cannot fsync a folder
    close(dfd);
  }
  return Status::Ok();
}


}  // namespace runbook
