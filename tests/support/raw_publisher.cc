// The raw publisher: DEALER frames and the session protocol by hand.
#include "raw_publisher.h"

#include <gtest/gtest.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/sockets.h"
#include "test_curve.h"

namespace signalbus::testing {

RawPublisher::RawPublisher(const std::string& ingest)
    : socket_(MakeSocket(SharedContext(), zmq::socket_type::dealer, ClientSocketOptions())) {
  socket_.set(zmq::sockopt::probe_router, 1);
  EXPECT_TRUE(Connect(socket_, ingest).ok());
  auto reply = Receive(std::chrono::seconds(20));
  connected_ = reply && reply->first == kSessionKind;
  EXPECT_TRUE(connected_) << "the broker at " << ingest << " never answered the connection's probe";
}

RawPublisher::~RawPublisher() { socket_.close(); }

void RawPublisher::SendFrames(const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    ASSERT_TRUE(socket_.send(zmq::buffer(frames[i]), flags));
  }
}

void RawPublisher::Send(const v1::Event& event) { SendFrames({TopicOf(event), EncodeEvent(event)}); }

void RawPublisher::SendAnonymous(v1::Event event) {
  event.clear_publisher_id();
  event.clear_sequence();
  event.clear_unconfirmed_from();
  Send(event);
}

std::optional<v1::SessionReply> RawPublisher::Hello(const std::string& publisher_id, std::uint64_t unconfirmed_from,
                                                    std::uint64_t next_sequence, std::chrono::milliseconds timeout) {
  v1::PublisherHello hello;
  hello.set_publisher_id(publisher_id);
  hello.set_unconfirmed_from(unconfirmed_from);
  hello.set_next_sequence(next_sequence);
  hello.set_client("raw-test-publisher");
  SendFrames({std::string(kHelloKind), hello.SerializeAsString()});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto message = Receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                  std::chrono::steady_clock::now()));
    if (!message) break;
    if (message->first != kSessionKind) continue;
    v1::SessionReply reply;
    if (reply.ParseFromString(message->second) && reply.state() != v1::SessionReply::NO_SESSION) return reply;
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> RawPublisher::Receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
  std::vector<std::string> frames;
  zmq::message_t frame;
  do {
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
    frames.push_back(frame.to_string());
  } while (frame.more());
  if (frames.size() != 2) {
    ADD_FAILURE() << "the broker sent a message of " << frames.size() << " frames";
    return std::nullopt;
  }
  return std::make_pair(frames[0], frames[1]);
}

std::optional<v1::PublishConfirm> RawPublisher::WaitConfirmed(std::uint64_t through,
                                                              std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<v1::PublishConfirm> last;
  std::vector<v1::PublishRejection> rejections;
  while (std::chrono::steady_clock::now() < deadline) {
    auto message = Receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                  std::chrono::steady_clock::now()));
    if (!message) break;
    if (message->first != kConfirmKind) continue;
    v1::PublishConfirm confirm;
    if (!confirm.ParseFromString(message->second)) continue;
    for (const auto& r : confirm.rejections()) rejections.push_back(r);
    last = confirm;
    if (confirm.durable_through() >= through) break;
  }
  if (last) {
    last->clear_rejections();
    for (const auto& r : rejections) *last->add_rejections() = r;
  }
  return last;
}

}  // namespace signalbus::testing
