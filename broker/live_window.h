// One live listener's byte window: what the broker has sent it and not yet seen credited.
// Every message sent is charged its bytes plus a fixed overhead (what ZeroMQ keeps per
// message in a pipe); nothing is sent that would take the window over its limit. The
// listener returns the window with marks: the broker sends a random 64-bit mark after
// every quarter window (and with heartbeat answers), and a LiveCredit naming a mark
// returns everything sent before it. A mark is only known by reading up to it, so a
// listener cannot return credit for what it has not read: the window bounds the bytes the
// broker holds for it, whatever the listener sends.
//
// Not thread-safe (the broker's poll thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace signalbus::broker {

// Unpredictable, nonzero 64-bit tokens for marks (getrandom, read in blocks).
class MarkTokens {
 public:
  std::uint64_t Next();

 private:
  std::array<std::uint64_t, 64> block_{};
  std::size_t next_ = block_.size();
};

class LiveWindow {
 public:
  // Charged per message on top of its bytes: three 64-byte msg_t in the ROUTER's pipe
  // (routing id, topic, event) and a share of the marks between messages, rounded up.
  static constexpr std::uint64_t kMessageOverheadBytes = 512;
  // Marks awaiting credit; with a mark per quarter window there are usually at most five.
  static constexpr std::size_t kMaxMarks = 16;

  static constexpr std::uint64_t ChargeOf(std::size_t message_bytes) { return message_bytes + kMessageOverheadBytes; }

  explicit LiveWindow(std::uint64_t limit) : limit_(limit) {}

  std::uint64_t limit() const { return limit_; }
  // A smaller limit takes effect as the window drains.
  void set_limit(std::uint64_t limit) { limit_ = limit; }
  // Charged and not credited.
  std::uint64_t in_flight() const { return sent_ - credited_; }
  bool Fits(std::uint64_t charge) const { return in_flight() + charge <= limit_; }
  void Charge(std::uint64_t charge) { sent_ += charge; }

  // The mark to send now, or 0 for none. A mark is due once the bytes sent since the last
  // one reach a quarter of the limit; `eager` makes any unmarked byte enough (heartbeat
  // answers, so that a quiet listener's window comes back too). Never more than kMaxMarks
  // await credit. The caller sends the mark right after the messages it covers.
  std::uint64_t NextMark(bool eager, MarkTokens& tokens);

  // Returns the window up to `mark` (and drops older marks). False, and nothing changes,
  // for a mark that is not awaiting credit (already credited, or never sent).
  bool Credit(std::uint64_t mark);

  std::size_t marks_outstanding() const { return marks_; }

 private:
  struct Mark {
    std::uint64_t token = 0;
    std::uint64_t sent = 0;  // sent_ when the mark was taken
  };

  std::uint64_t limit_;
  std::uint64_t sent_ = 0;
  std::uint64_t credited_ = 0;
  std::uint64_t marked_ = 0;  // sent_ at the last mark
  // A ring of the marks awaiting credit, oldest at first_.
  std::array<Mark, kMaxMarks> ring_{};
  std::size_t first_ = 0;
  std::size_t marks_ = 0;
};

}  // namespace signalbus::broker
