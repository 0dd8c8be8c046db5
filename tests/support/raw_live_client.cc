// The hand-driven live protocol client for tests.
#include "raw_live_client.h"

#include "signalbus/core/sockets.h"
#include "test_curve.h"

namespace signalbus::testing {

RawLiveClient::RawLiveClient(const std::string& endpoint)
    : socket_(MakeSocket(SharedContext(), zmq::socket_type::dealer, ClientSocketOptions())) {
  socket_.set(zmq::sockopt::sndtimeo, 5000);
  (void)Connect(socket_, endpoint);
}

RawLiveClient::~RawLiveClient() { Close(); }

void RawLiveClient::Close() {
  if (socket_) socket_.close();
}

bool RawLiveClient::SendFrames(const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    if (!socket_.send(zmq::buffer(frames[i]), flags)) return false;
  }
  return true;
}

bool RawLiveClient::Send(const v1::LiveRequest& request) { return SendFrames({request.SerializeAsString()}); }

bool RawLiveClient::Subscribe(const std::vector<std::string>& patterns, std::uint64_t window_bytes,
                              std::uint32_t heartbeat_ms) {
  v1::LiveRequest request;
  v1::LiveSubscribe* s = request.mutable_subscribe();
  for (const std::string& p : patterns) s->add_patterns(p);
  s->set_window_bytes(window_bytes);
  s->set_heartbeat_ms(heartbeat_ms);
  return Send(request);
}

bool RawLiveClient::Unsubscribe(const std::vector<std::string>& patterns) {
  v1::LiveRequest request;
  for (const std::string& p : patterns) request.mutable_unsubscribe()->add_patterns(p);
  return Send(request);
}

bool RawLiveClient::Credit(std::uint64_t mark) {
  v1::LiveRequest request;
  request.mutable_credit()->set_mark(mark);
  return Send(request);
}

bool RawLiveClient::Heartbeat() {
  v1::LiveRequest request;
  request.mutable_heartbeat();
  return Send(request);
}

std::optional<RawLiveClient::Message> RawLiveClient::Next(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
  Message m;
  zmq::message_t frame;
  bool more = true;
  while (more && socket_.recv(frame, zmq::recv_flags::dontwait)) {
    more = frame.more();
    m.frames.push_back(frame.to_string());
  }
  if (m.frames.size() == 1) {
    v1::LiveReply reply;
    if (reply.ParseFromString(m.frames[0])) m.reply = std::move(reply);
  }
  return m;
}

std::optional<v1::LiveReply> RawLiveClient::NextReplyOfKind(v1::LiveReply::KindCase kind,
                                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<Message> m = Next(left);
    if (!m) return std::nullopt;
    if (m->reply && m->reply->kind_case() == kind) return m->reply;
  }
}

}  // namespace signalbus::testing
