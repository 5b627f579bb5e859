// Bounded capture of a child's output: the last N bytes of a stream (for the audit log and the
// `stdout` output source) and a splitter that turns a byte stream into lines for live printing.
// Neither type is thread-safe; each belongs to the loop that reads one stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace runbook {

/// Keeps the last `capacity` bytes appended. Appending is amortised O(bytes): the buffer grows
/// to twice the capacity before dropping its head, so a 50 MB stream costs ~25 moves of 64 KiB.
class TailBuffer {
 public:
  /// `capacity` 0 keeps nothing.
  explicit TailBuffer(size_t capacity) : capacity_(capacity) {}

  void Append(std::string_view data);
  /// The last `capacity` bytes (or fewer, if fewer were appended).
  std::string Take() &&;
  /// How many bytes were appended in total (kept or not).
  size_t total() const { return total_; }

 private:
  size_t capacity_;
  size_t total_ = 0;
  std::string data_;
};

/// Splits a byte stream into lines (without their '\n'). A line longer than `max_line` bytes is
/// delivered in pieces of `max_line` bytes, so that output without newlines still streams and
/// memory stays bounded.
class LineSplitter {
 public:
  /// `continues`: the piece is not the end of its line (a line longer than max_line).
  using Sink = std::function<void(std::string_view line, bool continues)>;

  /// `max_line` must be at least 1.
  explicit LineSplitter(size_t max_line) : max_line_(max_line == 0 ? 1 : max_line) {}

  /// Feeds bytes; calls `sink` once per complete line (or full piece).
  void Feed(std::string_view data, const Sink& sink);
  /// Delivers a last line that had no '\n' (if any). Call at end of stream.
  void Flush(const Sink& sink);

 private:
  size_t max_line_;
  std::string partial_;
};

}  // namespace runbook
