// Socket creation with signalbus's limits and CURVE applied in one place.
#include "signalbus/core/sockets.h"

#include <zmq.h>

namespace signalbus {
namespace {

// ZMQ_ZAP_ENFORCE_DOMAIN: a draft option that Debian's headers define only with
// ZMQ_BUILD_DRAFT_API; the stable 4.3 library accepts it (docs/security.md).
constexpr int kZapEnforceDomain = 93;

void SetCurve(zmq::socket_t& socket, const CurveSecurity& curve) {
  if (!CurveAvailable()) throw SocketSecurityError("this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
  if (curve.server) {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, curve.keys.secret_key);
    socket.set(zmq::sockopt::zap_domain, kZapDomain);
    int on = 1;
    if (zmq_setsockopt(socket.handle(), kZapEnforceDomain, &on, sizeof on) != 0) {
      throw SocketSecurityError(std::string("cannot set ZMQ_ZAP_ENFORCE_DOMAIN: ") + zmq_strerror(zmq_errno()));
    }
    int enforced = 0;
    std::size_t size = sizeof enforced;
    const bool read_back = zmq_getsockopt(socket.handle(), kZapEnforceDomain, &enforced, &size) == 0;
    if (!read_back || enforced != 1 || socket.get(zmq::sockopt::curve_server) != 1 ||
        socket.get(zmq::sockopt::zap_domain) != kZapDomain || socket.get(zmq::sockopt::mechanism) != ZMQ_CURVE) {
      throw SocketSecurityError("a CURVE server option did not read back as set (CURVE_SERVER, ZAP domain, "
                                "ZAP_ENFORCE_DOMAIN): refusing to serve unauthenticated clients");
    }
  } else {
    socket.set(zmq::sockopt::curve_serverkey, curve.server_key);
    socket.set(zmq::sockopt::curve_publickey, curve.keys.public_key);
    socket.set(zmq::sockopt::curve_secretkey, curve.keys.secret_key);
    if (socket.get(zmq::sockopt::mechanism) != ZMQ_CURVE || socket.get(zmq::sockopt::curve_server) != 0) {
      throw SocketSecurityError("the CURVE client options did not read back as set");
    }
  }
}

}  // namespace

zmq::context_t& SharedContext() {
  // Never destroyed: a context torn down at exit would block on sockets that static
  // destructors still hold. Programs close their sockets explicitly.
  static zmq::context_t* context = new zmq::context_t(1);
  return *context;
}

zmq::socket_t MakeSocket(zmq::context_t& context, zmq::socket_type type, const SocketOptions& options) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::sndhwm, options.send_hwm);
  socket.set(zmq::sockopt::rcvhwm, options.recv_hwm);
  // With CURVE, libzmq checks the limit against the MESSAGE command that carries the
  // frame: 33 bytes more ("\x07MESSAGE", an 8-byte nonce, a 16-byte MAC, a flags byte).
  // The limit stays the frame's own.
  constexpr std::int64_t kCurveFrameOverhead = 33;
  socket.set(zmq::sockopt::maxmsgsize, options.max_frame_bytes < 0 || !options.curve
                                           ? options.max_frame_bytes
                                           : options.max_frame_bytes + kCurveFrameOverhead);
  socket.set(zmq::sockopt::linger, static_cast<int>(options.linger.count()));
  socket.set(zmq::sockopt::sndtimeo, static_cast<int>(options.send_timeout.count()));
  socket.set(zmq::sockopt::reconnect_ivl, static_cast<int>(options.reconnect_interval.count()));
  socket.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(options.reconnect_interval_max.count()));
  socket.set(zmq::sockopt::handshake_ivl, static_cast<int>(options.handshake_interval.count()));
  if (options.curve) {
    try {
      SetCurve(socket, *options.curve);
    } catch (const zmq::error_t& e) {
      throw SocketSecurityError(std::string("cannot set up CURVE: ") + e.what());
    }
  }
  return socket;
}

Result<std::string> Bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
    return socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot bind " + endpoint + ": " + e.what());
  }
}

Result<BoundEndpoints> BindServer(zmq::socket_t& socket, const std::string& endpoint,
                                  const std::optional<CurveSecurity>& curve) {
  Result<std::string> bound = Bind(socket, endpoint);
  if (!bound.ok()) return bound.status();
  BoundEndpoints out{std::move(bound).value(), ""};
  if (!curve || !curve->next_keys) return out;
  try {
    SetCurve(socket, CurveSecurity{true, *curve->next_keys, "", std::nullopt, ""});
  } catch (const std::exception& e) {  // zmq::error_t, SocketSecurityError
    return Internal(std::string("cannot set up the next CURVE key: ") + e.what());
  }
  Result<std::string> next = Bind(socket, curve->next_endpoint);
  if (!next.ok()) return next.status();
  out.next_endpoint = std::move(next).value();
  return out;
}

Status Connect(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return InvalidArgument("cannot connect to " + endpoint + ": " + e.what());
  }
}

bool TryRecvFrame(zmq::socket_t& socket, zmq::message_t& frame) {
  while (true) {
    try {
      return socket.recv(frame, zmq::recv_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

}  // namespace signalbus
