// Topic grammar, parsing and segment-exact matching.
#include "signalbus/core/topic.h"

#include "signalbus/core/logging.h"

namespace signalbus {
namespace {

bool IsIdentStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !IsIdentStart(s.front())) return false;
  for (char c : s) {
    if (!IsIdentChar(c)) return false;
  }
  return true;
}

}  // namespace

Status ValidateSender(std::string_view sender) {
  if (sender.empty()) return InvalidArgument("sender is empty");
  if (sender.size() > kMaxTopicBytes) return InvalidArgument("sender is longer than 255 bytes");
  std::size_t start = 0;
  while (true) {
    std::size_t dot = sender.find('.', start);
    std::string_view part = sender.substr(start, dot == std::string_view::npos ? sender.npos : dot - start);
    if (!IsIdentifier(part)) {
      return InvalidArgument("sender '" + Printable(sender) +
                             "' is not a model label like app_label.ModelName");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return Status::Ok();
}

Status ValidateSignalName(std::string_view signal) {
  if (signal.empty()) return InvalidArgument("signal name is empty");
  if (signal.size() > kMaxTopicBytes) return InvalidArgument("signal name is longer than 255 bytes");
  if (!IsIdentifier(signal)) {
    return InvalidArgument("signal name '" + Printable(signal) + "' is not an identifier like post_save");
  }
  return Status::Ok();
}

Result<std::string> MakeTopic(std::string_view sender, std::string_view signal) {
  if (Status s = ValidateSender(sender); !s.ok()) return s;
  if (Status s = ValidateSignalName(signal); !s.ok()) return s;
  std::string topic;
  topic.reserve(sender.size() + 1 + signal.size());
  topic.append(sender).push_back('/');
  topic.append(signal);
  if (topic.size() > kMaxTopicBytes) return InvalidArgument("topic is longer than 255 bytes");
  return topic;
}

Result<TopicParts> ParseTopic(std::string_view topic) {
  if (topic.size() > kMaxTopicBytes) return InvalidArgument("topic is longer than 255 bytes");
  std::size_t slash = topic.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgument("topic '" + Printable(topic) + "' has no '/' (expected sender/signal)");
  }
  TopicParts parts{topic.substr(0, slash), topic.substr(slash + 1)};
  if (Status s = ValidateSender(parts.sender); !s.ok()) return s;
  if (Status s = ValidateSignalName(parts.signal); !s.ok()) return s;
  return parts;
}

Result<TopicPattern> TopicPattern::Parse(std::string_view pattern) {
  TopicPattern p;
  if (pattern.empty()) return InvalidArgument("topic pattern is empty");
  if (pattern == "*") return p;
  std::size_t slash = pattern.find('/');
  std::string_view sender = pattern.substr(0, slash);
  std::string_view signal = slash == std::string_view::npos ? "*" : pattern.substr(slash + 1);
  if (sender != "*") {
    if (Status s = ValidateSender(sender); !s.ok()) {
      return InvalidArgument("bad topic pattern '" + Printable(pattern) + "': " + s.message());
    }
    p.sender_ = std::string(sender);
  }
  if (signal != "*") {
    if (Status s = ValidateSignalName(signal); !s.ok()) {
      return InvalidArgument("bad topic pattern '" + Printable(pattern) + "': " + s.message());
    }
    p.signal_ = std::string(signal);
  }
  return p;
}

bool TopicPattern::Matches(std::string_view topic) const {
  std::size_t slash = topic.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view sender = topic.substr(0, slash);
  std::string_view signal = topic.substr(slash + 1);
  if (!sender_.empty() && sender != sender_) return false;
  if (!signal_.empty() && signal != signal_) return false;
  return true;
}

std::string TopicPattern::ZmqPrefix() const {
  if (sender_.empty()) return "";
  if (signal_.empty()) return sender_ + "/";
  return sender_ + "/" + signal_;
}

std::string TopicPattern::ToString() const {
  return (sender_.empty() ? std::string("*") : sender_) + "/" + (signal_.empty() ? std::string("*") : signal_);
}

}  // namespace signalbus
