// The ZAP handler's thread: RFC 27 requests in, allow-list answers out.
#include "signalbus/auth/zap_handler.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <vector>

#include "signalbus/core/curve_keys.h"
#include "signalbus/core/sockets.h"

namespace signalbus::auth {
namespace {

// The frames of a ZAP request (RFC 27), after the REP envelope.
enum Frame { kVersion, kRequestId, kDomain, kAddress, kRoutingId, kMechanism, kCredentials };

std::string Z85(const zmq::message_t& key) {
  char text[kCurveKeyChars + 1];
  if (key.size() != 32 || zmq_z85_encode(text, static_cast<const std::uint8_t*>(key.data()), 32) == nullptr) {
    return "";
  }
  return std::string(text, kCurveKeyChars);
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context) : context_(context) {}

ZapHandler::~ZapHandler() { Stop(); }

Status ZapHandler::Start(std::shared_ptr<const AllowList> list) {
  Replace(std::move(list));
  try {
    socket_ = zmq::socket_t(context_, zmq::socket_type::rep);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    socket_.close();
    return Unavailable(std::string("cannot start the ZAP handler on ") + kZapEndpoint + ": " + e.what() +
                       " (is another one running in this process?)");
  }
  stop_ = false;
  running_ = true;
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void ZapHandler::Replace(std::shared_ptr<const AllowList> list) {
  std::lock_guard lock(mutex_);
  list_ = std::move(list);
}

void ZapHandler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

void ZapHandler::Serve() {
  try {
    std::vector<zmq::message_t> request;
    while (!stop_.load(std::memory_order_relaxed)) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      request.clear();
      zmq::message_t frame;
      do {
        if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
        request.push_back(std::move(frame));
      } while (request.back().more());
      Answer(request);
    }
  } catch (const std::exception& e) {
    spdlog::error("the ZAP handler failed ({}): no new client can connect until the broker restarts", e.what());
  }
  // Closing the endpoint is what makes libzmq refuse from now on (ZAP_ENFORCE_DOMAIN).
  socket_.close();
  running_.store(false, std::memory_order_release);
}

void ZapHandler::Answer(std::vector<zmq::message_t>& request) {
  std::string user_id;
  std::string status = "400";
  std::string text = "unknown client key";
  std::string_view version = request.size() > kVersion ? request[kVersion].to_string_view() : "";
  if (request.size() < kCredentials || version != "1.0") {
    text = "malformed ZAP request";
  } else if (request[kDomain].to_string_view() != kZapDomain) {
    text = "unknown ZAP domain";
  } else if (request[kMechanism].to_string_view() != "CURVE" || request.size() != kCredentials + 1) {
    text = "only CURVE clients are served";
  } else {
    std::string key = Z85(request[kCredentials]);
    std::shared_ptr<const AllowList> list;
    {
      std::lock_guard lock(mutex_);
      list = list_;
    }
    if (!key.empty() && list != nullptr && list->Find(key) != nullptr) {
      status = "200";
      text = "OK";
      user_id = std::move(key);
    }
  }
  (status == "200" ? allowed_ : refused_).fetch_add(1, std::memory_order_relaxed);
  std::string request_id = request.size() > kRequestId ? request[kRequestId].to_string() : "";
  socket_.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(status), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(text), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
  socket_.send(zmq::const_buffer(), zmq::send_flags::none);
}

}  // namespace signalbus::auth
