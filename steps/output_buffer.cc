#include "steps/output_buffer.h"

namespace runbook {

void TailBuffer::Append(std::string_view data) {
  total_ += data.size();
  if (capacity_ == 0) return;
  if (data.size() >= capacity_) {
    data_.assign(data.substr(data.size() - capacity_));
    return;
  }
  data_.append(data);
  if (data_.size() > 2 * capacity_) data_.erase(0, data_.size() - capacity_);
}

std::string TailBuffer::Take() && {
  if (data_.size() > capacity_) data_.erase(0, data_.size() - capacity_);
  return std::move(data_);
}

void LineSplitter::Feed(std::string_view data, const Sink& sink) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const size_t room = max_line_ - partial_.size();  // partial_ never reaches max_line_
    if (newline != std::string_view::npos && newline <= room) {
      if (partial_.empty()) {
        sink(data.substr(0, newline), false);
      } else {
        partial_.append(data.substr(0, newline));
        sink(partial_, false);
        partial_.clear();
      }
      data.remove_prefix(newline + 1);
      continue;
    }
    if (data.size() < room) {  // no complete line and no full piece: keep for later
      partial_.append(data);
      return;
    }
    // A full piece of max_line_ bytes without a newline in it.
    if (partial_.empty()) {
      sink(data.substr(0, room), true);
    } else {
      partial_.append(data.substr(0, room));
      sink(partial_, true);
      partial_.clear();
    }
    data.remove_prefix(room);
  }
}

void LineSplitter::Flush(const Sink& sink) {
  if (partial_.empty()) return;
  sink(partial_, false);
  partial_.clear();
}

}  // namespace runbook
