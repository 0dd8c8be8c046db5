// The ZAP handler with real CURVE sockets: who gets in, with which User-Id, and that
// nobody does once it has stopped.
#include "signalbus/auth/zap_handler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "signalbus/core/connection_watch.h"
#include "signalbus/core/sockets.h"

namespace signalbus::auth {
namespace {

using namespace std::chrono_literals;

struct Server {
  CurveKeyPair keys = GenerateCurveKeyPair().value();
  zmq::socket_t socket;
  std::string endpoint;

  explicit Server(zmq::context_t& context) {
    SocketOptions options;
    options.curve = CurveSecurity{true, keys, ""};
    socket = MakeSocket(context, zmq::socket_type::router, options);
    endpoint = Bind(socket, "tcp://127.0.0.1:*").value();
  }
};

std::shared_ptr<const AllowList> ListOf(const std::string& name, const std::string& key) {
  return std::make_shared<const AllowList>(
      AllowList::Parse("[[principal]]\nname = \"" + name + "\"\nkeys = [\"" + key + "\"]\n", "test").value());
}

// A DEALER that sends "hello" with `keys`, pinning `server_key`; what the server receives
// within `wait` (nullopt: nothing), and the client's handshake refusal, if any.
struct Attempt {
  std::optional<std::string> user_id;
  std::string refusal;
};
Attempt Try(zmq::context_t& context, Server& server, const std::optional<CurveKeyPair>& keys,
            const std::string& server_key, std::chrono::milliseconds wait = 3000ms) {
  SocketOptions options;
  if (keys) options.curve = CurveSecurity{false, *keys, server_key};
  zmq::socket_t client = MakeSocket(context, zmq::socket_type::dealer, options);
  Attempt attempt;
  {
    ConnectionWatch watch(context, client);
    EXPECT_TRUE(Connect(client, server.endpoint).ok());
    (void)client.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t items[] = {{server.socket.handle(), 0, ZMQ_POLLIN, 0}, {watch.socket().handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, 50ms);
      if (watch.Drain() == ConnectionWatch::Change::kRefused) {
        attempt.refusal = watch.refusal();
        break;
      }
      zmq::message_t id, body;
      if (TryRecvFrame(server.socket, id) && TryRecvFrame(server.socket, body)) {
        const char* user = zmq_msg_gets(body.handle(), "User-Id");
        attempt.user_id = user ? user : "";
        break;
      }
    }
  }
  client.close();
  return attempt;
}

TEST(ZapHandlerTest, AListedKeyGetsInWithItsKeyAsUserIdAndOthersAreRefused) {
  zmq::context_t context;
  CurveKeyPair client = GenerateCurveKeyPair().value();
  ZapHandler zap(context);
  ASSERT_TRUE(zap.Start(ListOf("accounts", client.public_key)).ok());
  Server server(context);

  Attempt listed = Try(context, server, client, server.keys.public_key);
  ASSERT_TRUE(listed.user_id.has_value()) << listed.refusal;
  EXPECT_EQ(*listed.user_id, client.public_key);

  Attempt stranger = Try(context, server, GenerateCurveKeyPair().value(), server.keys.public_key);
  EXPECT_FALSE(stranger.user_id.has_value());
  EXPECT_NE(stranger.refusal.find("not in the broker's allow-list"), std::string::npos) << stranger.refusal;

  Attempt no_key = Try(context, server, std::nullopt, "");
  EXPECT_FALSE(no_key.user_id.has_value());
  EXPECT_NE(no_key.refusal.find("disagree on security"), std::string::npos) << no_key.refusal;

  Attempt wrong_server = Try(context, server, client, GenerateCurveKeyPair().value().public_key);
  EXPECT_FALSE(wrong_server.user_id.has_value());
  EXPECT_NE(wrong_server.refusal.find("--curve-server-key"), std::string::npos) << wrong_server.refusal;
  EXPECT_GE(zap.refused(), 1u);
  EXPECT_EQ(zap.allowed(), 1u);
}

TEST(ZapHandlerTest, AReplacedListRefusesTheRemovedKeyAtItsNextHandshake) {
  zmq::context_t context;
  CurveKeyPair old_key = GenerateCurveKeyPair().value(), new_key = GenerateCurveKeyPair().value();
  ZapHandler zap(context);
  ASSERT_TRUE(zap.Start(ListOf("svc", old_key.public_key)).ok());
  Server server(context);
  ASSERT_TRUE(Try(context, server, old_key, server.keys.public_key).user_id.has_value());
  zap.Replace(ListOf("svc", new_key.public_key));
  EXPECT_FALSE(Try(context, server, old_key, server.keys.public_key).user_id.has_value());
  EXPECT_TRUE(Try(context, server, new_key, server.keys.public_key).user_id.has_value());
}

TEST(ZapHandlerTest, WithTheHandlerStoppedOrNeverStartedNoOneGetsIn) {
  zmq::context_t context;
  CurveKeyPair client = GenerateCurveKeyPair().value();
  {
    Server unguarded(context);  // no handler bound at all
    EXPECT_FALSE(Try(context, unguarded, client, unguarded.keys.public_key, 1500ms).user_id.has_value());
  }
  ZapHandler zap(context);
  ASSERT_TRUE(zap.Start(ListOf("svc", client.public_key)).ok());
  EXPECT_TRUE(zap.running());
  Server server(context);
  ASSERT_TRUE(Try(context, server, client, server.keys.public_key).user_id.has_value());
  zap.Stop();
  EXPECT_FALSE(zap.running());
  EXPECT_FALSE(Try(context, server, client, server.keys.public_key, 1500ms).user_id.has_value());
}

TEST(ZapHandlerTest, ASecondHandlerInOneContextIsRefused) {
  zmq::context_t context;
  ZapHandler first(context), second(context);
  ASSERT_TRUE(first.Start(std::make_shared<const AllowList>()).ok());
  Status s = second.Start(std::make_shared<const AllowList>());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(kZapEndpoint), std::string::npos);
}

}  // namespace
}  // namespace signalbus::auth
