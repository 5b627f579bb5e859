// Test support: a real, small tmpfs mounted for one test, to fill a disk on purpose (the audit
// database on a full disk, SPEC §5). Mounting needs root or CAP_SYS_ADMIN; where it is not
// permitted the test says so and is skipped (GTEST_SKIP), never silently passed.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace runbook::testing {

/// A tmpfs of `size` (mount -o size=..., e.g. "512k") on a fresh folder; unmounted and removed
/// on destruction.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& size) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "runbook-tmpfs.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    path_ = tmpl;
    const std::string options = "size=" + size + ",mode=0755";
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::string("mount -t tmpfs -o ") + options + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) rmdir(path_.c_str());
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  /// Whether the tmpfs is mounted; when not, error() says why (for GTEST_SKIP).
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  /// Writes zeros to `name` until the disk is full; returns how many bytes fitted.
  size_t Fill(const std::string& name = "filler") const {
    const std::string file = File(name);
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    static const char kZeros[4096] = {};
    size_t total = 0;
    for (;;) {
      ssize_t n = write(fd, kZeros, sizeof kZeros);
      if (n <= 0) break;
      total += static_cast<size_t>(n);
    }
    // Smaller pieces for what is left of the last page.
    while (write(fd, kZeros, 1) == 1) ++total;
    close(fd);
    return total;
  }
  /// Removes what Fill() wrote: space is back.
  void Unfill(const std::string& name = "filler") const { unlink(File(name).c_str()); }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

}  // namespace runbook::testing

/// Skips the current test, saying why, when `mount` (a TmpfsMount) is not mounted.
#define SKIP_UNLESS_MOUNTED(mount)                                                             \
  if (!(mount).mounted())                                                                      \
  GTEST_SKIP() << "this test fills a small tmpfs and needs to mount one (run as root or with " \
                  "CAP_SYS_ADMIN): "                                                           \
               << (mount).error()
