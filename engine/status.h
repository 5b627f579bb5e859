// Errors as values (leveldb's Status): library code never throws across its API and never
// exits, so the executor always reaches its rollback and its audit record.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace runbook {

/// What kind of failure a Status reports. The kind, not the message, decides what a caller
/// does next and which exit code a command ends with (app/exit_code.h maps them, in one
/// place): a busy database is retried or refused, never reported as tampered.
enum class StatusKind {
  kOk,
  kFailed,      // an operation failed for a reason none of the kinds below names
  kInvalid,     // bad input: a runbook, an argument, a value (nothing ran)
  kNotFound,    // an unknown run, plan or file
  kRefused,     // a rule said no: approval missing, rejected, expired; a lock held
  kBusy,        // another process holds the database or a resource; try again later
  kCorruption,  // stored data is damaged or was tampered with
  kIOError,     // the disk or the OS failed: full disk, permission, read or write error
};

/// The kind's name as messages and `--json` output show it ("not_found").
const char* StatusKindName(StatusKind kind);

/// The outcome of an operation that returns nothing: ok, or an error of some kind with a
/// message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  /// An error whose kind is kFailed.
  static Status Error(std::string message) {
    return Status(StatusKind::kFailed, std::move(message));
  }
  static Status Invalid(std::string m) { return Status(StatusKind::kInvalid, std::move(m)); }
  static Status NotFound(std::string m) { return Status(StatusKind::kNotFound, std::move(m)); }
  static Status Refused(std::string m) { return Status(StatusKind::kRefused, std::move(m)); }
  static Status Busy(std::string m) { return Status(StatusKind::kBusy, std::move(m)); }
  static Status Corruption(std::string m) {
    return Status(StatusKind::kCorruption, std::move(m));
  }
  static Status IOError(std::string m) { return Status(StatusKind::kIOError, std::move(m)); }
  /// An error of `kind` (kOk gives an ok Status and drops the message).
  static Status OfKind(StatusKind kind, std::string message) {
    return kind == StatusKind::kOk ? Status() : Status(kind, std::move(message));
  }

  bool ok() const { return kind_ == StatusKind::kOk; }
  StatusKind kind() const { return kind_; }
  bool IsNotFound() const { return kind_ == StatusKind::kNotFound; }
  bool IsBusy() const { return kind_ == StatusKind::kBusy; }
  bool IsCorruption() const { return kind_ == StatusKind::kCorruption; }
  /// The error message; empty when ok().
  const std::string& message() const { return message_; }
  /// The same kind with `context` put before the message ("cannot store the plan: ...").
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Status(kind_, context + ": " + message_);
  }

 private:
  Status(StatusKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  StatusKind kind_ = StatusKind::kOk;
  std::string message_;
};

/// A value or an error message.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: must not be ok()
  static Result Error(std::string message) { return Result(Status::Error(std::move(message))); }
  static Result Error(StatusKind kind, std::string message) {
    return Result(Status::OfKind(kind, std::move(message)));
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  /// The error; Status::Ok() when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  const std::string& message() const {
    static const std::string kEmpty;
    return ok() ? kEmpty : std::get<Status>(v_).message();
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace runbook
