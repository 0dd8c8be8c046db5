// Topics and topic patterns. A topic is "<sender>/<signal>" (auth.User/post_save);
// the sender is a Django model label or a dotted module name, the signal an identifier.
// Matching is exact per segment: auth.User/ never matches auth.UserProfile/…, and
// auth.User/post_save never matches post_save_archived.
#pragma once

#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

inline constexpr std::size_t kMaxTopicBytes = 255;

// Dotted identifiers: "auth.User", "shop.Order_items", "django.contrib.auth".
Status ValidateSender(std::string_view sender);
// An identifier: "post_save", "order_paid".
Status ValidateSignalName(std::string_view signal);

// "auth.User" + "post_save" -> "auth.User/post_save", or why not.
Result<std::string> MakeTopic(std::string_view sender, std::string_view signal);

struct TopicParts {
  std::string_view sender;
  std::string_view signal;
};
// Splits and validates a topic. The views point into `topic`.
Result<TopicParts> ParseTopic(std::string_view topic);

// A subscription: each segment is a literal or "*". Accepted forms:
//   "auth.User/post_save"   one topic
//   "auth.User/*"           every signal of a sender ("auth.User" alone means the same)
//   "*/post_save"           one signal of every sender
//   "*" or "*/*"            everything
class TopicPattern {
 public:
  static Result<TopicPattern> Parse(std::string_view pattern);

  bool Matches(std::string_view topic) const;
  // The longest literal prefix every matching topic starts with, for ZeroMQ SUB
  // filters, which match on bytes. It is only a coarse filter: call Matches too.
  std::string ZmqPrefix() const;
  // Canonical text: "auth.User/*", "*/post_save", "*/*".
  std::string ToString() const;

  bool any_sender() const { return sender_.empty(); }
  bool any_signal() const { return signal_.empty(); }
  // The literal segments; empty where the pattern has "*".
  const std::string& sender() const { return sender_; }
  const std::string& signal() const { return signal_; }

  friend bool operator==(const TopicPattern&, const TopicPattern&) = default;

 private:
  std::string sender_;  // empty = "*"
  std::string signal_;  // empty = "*"
};

}  // namespace signalbus
