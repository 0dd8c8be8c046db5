// Marks and credit of a live listener's window.
#include "live_window.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace signalbus::broker {

std::uint64_t MarkTokens::Next() {
  while (true) {
    if (next_ == block_.size()) {
      // getrandom never fails for a buffer this small once the pool is ready, except for a
      // signal before any byte was read: retried. Anything else is a broken system.
      std::size_t filled = 0;
      auto* bytes = reinterpret_cast<unsigned char*>(block_.data());
      while (filled < sizeof block_) {
        ssize_t n = getrandom(bytes + filled, sizeof block_ - filled, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) std::abort();
        filled += static_cast<std::size_t>(n);
      }
      next_ = 0;
    }
    std::uint64_t token = block_[next_++];
    if (token != 0) return token;  // 0 means "no mark" on the wire
  }
}

std::uint64_t LiveWindow::NextMark(bool eager, MarkTokens& tokens) {
  const std::uint64_t unmarked = sent_ - marked_;
  if (unmarked == 0 || marks_ == kMaxMarks) return 0;
  if (!eager && unmarked < limit_ / 4) return 0;
  Mark& mark = ring_[(first_ + marks_) % kMaxMarks];
  mark.token = tokens.Next();
  mark.sent = sent_;
  ++marks_;
  marked_ = sent_;
  return mark.token;
}

bool LiveWindow::Credit(std::uint64_t mark) {
  if (mark == 0) return false;
  for (std::size_t i = 0; i < marks_; ++i) {
    const Mark& m = ring_[(first_ + i) % kMaxMarks];
    if (m.token != mark) continue;
    // Everything before this mark was read, so every older mark was too.
    credited_ = m.sent;
    first_ = (first_ + i + 1) % kMaxMarks;
    marks_ -= i + 1;
    return true;
  }
  return false;
}

}  // namespace signalbus::broker
