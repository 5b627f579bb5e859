#include "audit/journal_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "audit/hash_chain.h"

namespace runbook {

namespace {

constexpr size_t kHashHex = 64;

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Writes all of `data` at `offset`; the errno of the failure, or 0.
int WriteAll(int fd, const char* data, size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return 0;
}

// Writes zeros over [from, to); the errno of the failure, or 0.
int WriteZeros(int fd, size_t from, size_t to) {
  static const char kZeros[8192] = {};
  while (from < to) {
    const size_t n = std::min(sizeof kZeros, to - from);
    if (int err = WriteAll(fd, kZeros, n, static_cast<off_t>(from)); err != 0) return err;
    from += n;
  }
  return 0;
}

}  // namespace

JournalFile::JournalFile(std::string path) : path_(std::move(path)) {}

JournalFile::~JournalFile() {
  if (fd_ >= 0) close(fd_);
}

Status JournalFile::Error(const std::string& what, int err) const {
  return Status::IOError("audit journal " + path_ + ": " + what + ": " + std::strerror(err));
}

Result<bool> JournalFile::OpenIfExists() {
  if (fd_ >= 0) return true;
  int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return Error("cannot open", errno);
  }
  fd_ = fd;
  return true;
}

Status JournalFile::OpenOrCreate() {
  if (fd_ >= 0) return Status::Ok();
  int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  const bool created = fd >= 0;
  if (fd < 0 && errno == EEXIST) fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error("cannot create", errno);
  fd_ = fd;
  if (created) {
    // The file's name must survive a crash as well as its contents.
    std::string dir = std::filesystem::path(path_).parent_path().string();
    int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);  // best effort: some file systems cannot fsync a folder
      close(dfd);
    }
  }
  return Status::Ok();
}

Status JournalFile::Lock() {
  if (fd_ < 0) return Status::Error("audit journal " + path_ + " is not open");
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return Error("cannot lock", errno);
  }
  locked_ = true;
  return Status::Ok();
}

void JournalFile::Unlock() {
  if (fd_ >= 0 && locked_) (void)flock(fd_, LOCK_UN);
  locked_ = false;
}

Status JournalFile::Sync() const {
  if (fdatasync(fd_) != 0) return Error("cannot sync", errno);
  return Status::Ok();
}

std::string JournalFile::Line(std::string_view payload) {
  std::string line = Sha256Hex(payload);
  line += ' ';
  line += payload;
  line += '\n';
  return line;
}

Result<JournalFile::Contents> JournalFile::Read() const {
  Contents contents;
  struct stat st {};
  if (fstat(fd_, &st) != 0) return Error("cannot stat", errno);
  contents.size = static_cast<size_t>(st.st_size);
  // The records end at the first NUL: read up to it, not the whole reserve (this runs before
  // every write of every run).
  constexpr size_t kChunk = 16 * 1024;
  std::string data;
  for (;;) {
    const size_t got = data.size();
    data.resize(got + kChunk);
    ssize_t n = pread(fd_, data.data() + got, kChunk, static_cast<off_t>(got));
    if (n < 0) {
      data.resize(got);
      if (errno == EINTR) continue;
      return Error("cannot read", errno);
    }
    data.resize(got + static_cast<size_t>(n));
    if (n == 0 || data.find('\0', got) != std::string::npos) break;
  }

  size_t pos = 0;
  while (pos < data.size() && data[pos] != '\0') {
    const size_t end = data.find_first_of(std::string_view("\n\0", 2), pos);
    const std::string at = " at offset " + std::to_string(pos);
    if (end == std::string::npos || data[end] == '\0') {
      contents.warning = "audit journal " + path_ + ": ignored a partial record" + at +
                         " (cut off by a crash while it was being written)";
      break;
    }
    std::string_view line(data.data() + pos, end - pos);
    std::string_view hash = line.substr(0, std::min(kHashHex, line.size()));
    std::string_view payload =
        line.size() > kHashHex + 1 ? line.substr(kHashHex + 1) : std::string_view();
    if (line.size() <= kHashHex + 1 || line[kHashHex] != ' ' || !IsLowerHex(hash) ||
        Sha256Hex(payload) != hash || !ParseStoredJson(payload)) {
      contents.warning = "audit journal " + path_ + ": ignored a damaged record" + at +
                         " and anything after it (its checksum does not match: cut off by a "
                         "crash while it was being written, or edited)";
      break;
    }
    contents.records.emplace_back(payload);
    pos = end + 1;
  }
  contents.end = pos;
  return contents;
}

Status JournalFile::Append(std::string_view payload, const Contents& contents) {
  std::string bytes = Line(payload);
  const size_t at = contents.end;
  // Inside the reserve, a NUL after the record ends the records there, whatever a crash
  // left behind it.
  if (at + bytes.size() < contents.size) bytes += '\0';
  if (int err = WriteAll(fd_, bytes.data(), bytes.size(), static_cast<off_t>(at)); err != 0) {
    // Leave the file as it was: no partial record, no space taken.
    const char nul = '\0';
    if (at < contents.size) (void)WriteAll(fd_, &nul, 1, static_cast<off_t>(at));
    if (at + bytes.size() > contents.size) (void)ftruncate(fd_, static_cast<off_t>(contents.size));
    (void)fdatasync(fd_);
    return Error("cannot write a record", err);
  }
  if (Status s = Sync(); !s.ok()) {
    // Whether the record reached the disk is unknown: take it back where possible. Should it
    // have reached the disk after all, the replay recognizes it (audit_writer.h).
    const char nul = '\0';
    (void)WriteAll(fd_, &nul, 1, static_cast<off_t>(at));
    (void)fdatasync(fd_);
    return s;
  }
  return Status::Ok();
}

Status JournalFile::Reserve(size_t bytes) {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return Error("cannot stat", errno);
  const size_t size = static_cast<size_t>(st.st_size);
  if (size >= bytes) return Status::Ok();
  if (int err = WriteZeros(fd_, size, bytes); err != 0) {
    (void)ftruncate(fd_, static_cast<off_t>(size));
    return Error("cannot reserve " + std::to_string(bytes / 1024) + " KiB", err);
  }
  return Sync();
}

Status JournalFile::Clear(size_t keep) {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return Error("cannot stat", errno);
  size_t size = static_cast<size_t>(st.st_size);
  if (size > keep) {
    if (ftruncate(fd_, static_cast<off_t>(keep)) != 0) return Error("cannot shorten", errno);
    size = keep;
  }
  if (int err = WriteZeros(fd_, 0, size); err != 0) return Error("cannot clear", err);
  return Sync();
}

}  // namespace runbook
