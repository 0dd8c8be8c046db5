// Owns the issue's flood case: "100,000 garbage frames and oversized messages at each
// endpoint (ingest, live, groups), with and without CURVE: the broker keeps serving valid
// traffic, its RSS stays bounded (measured), nothing confirmed is lost."
//
// At each endpoint, without CURVE and with CURVE as a granted principal, one raw cppzmq
// DEALER sends 100,000 garbage messages (random bytes, wrong frame counts, empty frames,
// bytes that are not protobuf, truncated requests, messages over the application's own
// limits), and frames over the socket's ZMQ_MAXMSGSIZE go on connections of their own,
// which the broker must cut. With CURVE, peers that never authenticate (raw TCP writing
// random bytes and bogus ZMTP greetings, ZeroMQ clients with unknown keys) are cut off at
// the handshake and reach nothing. Meanwhile a real publisher (signalbus::Publisher)
// publishes 2,000 events, all confirmed; a real group member (signalbus-audit) and a live
// listener (signalbus-listen) get every one. The broker keeps its pid, counts every
// garbage message exactly, by reason, and its RSS stays under the bound stated in
// FloodBound(); every figure is printed ("[ figures  ]").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "ndjson_events.h"
#include "line_counter.h"
#include "proc_stats.h"
#include "process.h"
#include "sample_events.h"
#include "signalbus/broker/group_channel.h"
#include "signalbus/broker/ingest.h"
#include "signalbus/broker/live_options.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/curve_keys.h"
#include "signalbus/core/sockets.h"
#include "signalbus/publisher/publisher.h"
#include "signalbus/v1/groups.pb.h"
#include "signalbus/v1/live.pb.h"
#include "test_curve.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Counts = std::map<std::string, std::uint64_t>;

constexpr int kGarbage = 100'000;  // garbage messages per endpoint
constexpr int kEvents = 2'000;     // valid events published during each flood
constexpr int kWarmUp = 100;       // valid events published before the baseline
constexpr int kGarbagePerEvent = kGarbage / kEvents;
constexpr std::size_t kMaxEventBytes = 4096;  // --max-event-bytes: ingest's frame cap is 68 KiB

// What the broker lets one connection queue inbound, and the largest frame each socket
// reads (ZMQ_RCVHWM, ZMQ_MAXMSGSIZE): broker/ingest.cc IngestFrameCap with --ingest-queue
// (default 1,000); broker/group_channel.h; broker/live_options.h and the 32 messages of
// kReceiveQueueMessages in broker/live_fanout.cc.
const std::size_t kIngestFrameCap = static_cast<std::size_t>(broker::IngestFrameCap(kMaxEventBytes));
const int kIngestQueue = broker::IngestOptions{}.recv_hwm;
constexpr std::size_t kLiveFrameCap = broker::kMaxLiveRequestBytes;
constexpr int kLiveQueue = 32;
constexpr std::size_t kGroupsFrameCap = static_cast<std::size_t>(broker::GroupChannel::kMaxRequestBytes);
constexpr int kGroupsQueue = broker::GroupChannel::kRequestQueue;
// libzmq's msg_t per frame, as the broker's docs charge it (docs/consumer-groups.md).
constexpr std::size_t kFrameOverhead = 64;
// libzmq compares ZMQ_MAXMSGSIZE with the frame on the wire: with CURVE that is the
// encrypted MESSAGE command, 33 bytes longer than the message; MakeSocket adds those 33
// bytes, so garbage right up to each cap is read and counted with and without CURVE
// (without that, a 16,352-byte live request was dropped with its connection over CURVE).
constexpr std::size_t kUnderTheCap = 0;
// RSS the broker may take besides what one connection can queue: glibc keeps freed chunks
// in per-thread arenas (poll thread, journal, metrics server, ZAP handler, libzmq's I/O
// thread), the log's in-memory tail and the group's entries grow by 2,000 events, CURVE
// and protobuf parse buffers come and go.
constexpr std::uint64_t kSlack = 32 * kMiB;
// Between the flood's half-way point and its end (both after the broker has counted
// everything sent), when the second half alone is more than 3 x this many bytes: a
// broker that kept any sizeable part of what it was sent would grow by more.
constexpr std::uint64_t kSecondHalfGrowth = 16 * kMiB;

enum class Endpoint { kIngest, kLive, kGroups };

const char* Name(Endpoint e) {
  switch (e) {
    case Endpoint::kIngest: return "ingest";
    case Endpoint::kLive: return "live";
    case Endpoint::kGroups: return "groups";
  }
  return "";
}

std::string Rejected(const std::string& reason) { return "signalbus_ingest_rejected_total{reason=\"" + reason + "\"}"; }

// Every counter of garbage the broker keeps, by the sample's name: what a flood at one
// endpoint must raise by exactly what it sent, and leave at 0 everywhere else.
std::vector<std::string> GarbageCounters() {
  std::vector<std::string> samples;
  for (const char* reason : {"frame_count", "oversized", "bad_topic", "undecodable", "invalid_event", "topic_mismatch",
                             "bad_batch", "atomic_batch", "forbidden"}) {
    samples.push_back(Rejected(reason));
  }
  for (const char* sample :
       {"signalbus_live_refused_total{reason=\"bad_request\"}",
        "signalbus_live_refused_total{reason=\"unknown_listener\"}",
        "signalbus_group_refused_total{reason=\"malformed\"}", "signalbus_group_bad_requests_total",
        "signalbus_auth_refused_total{op=\"message\"}", "signalbus_auth_refused_total{op=\"publish\"}",
        "signalbus_auth_refused_total{op=\"subscribe\"}", "signalbus_auth_refused_total{op=\"join\"}",
        "signalbus_auth_refused_total{op=\"admin\"}"}) {
    samples.push_back(sample);
  }
  return samples;
}

// The counters as /metrics has them now (a missing page reads as -1 each).
std::map<std::string, double> ReadCounters(const BrokerProcess& broker, const std::vector<std::string>& samples) {
  std::optional<std::string> page = HttpGet(broker.metrics_url(), "/metrics");
  std::map<std::string, double> out;
  for (const std::string& s : samples) out[s] = page ? MetricValue(*page, s) : -1;
  return out;
}

// What the broker counted against what was sent, for a failure message.
std::string Compare(const BrokerProcess& broker, const Counts& expected) {
  std::vector<std::string> samples;
  for (const auto& [sample, n] : expected) samples.push_back(sample);
  std::string out;
  for (const auto& [sample, value] : ReadCounters(broker, samples)) {
    out += "\n  " + sample + ": counted " + std::to_string(static_cast<long long>(value)) + " of " +
           std::to_string(expected.at(sample)) + " sent";
  }
  return out;
}

bool AllCounted(const BrokerProcess& broker, const Counts& expected) {
  std::vector<std::string> samples;
  for (const auto& [sample, n] : expected) samples.push_back(sample);
  std::map<std::string, double> now = ReadCounters(broker, samples);
  return std::all_of(expected.begin(), expected.end(),
                     [&](const auto& e) { return now[e.first] == static_cast<double>(e.second); });
}

// A socket monitor (zmq_socket_monitor) read on demand: which connection events happened.
// libzmq sends each event with a blocking send from the thread that has it (its I/O
// thread): a monitor whose PAIR is full or closed stalls every socket of the context. So
// the PAIR queues without limit, and Stop() ends the monitor before the PAIR is closed.
class Monitor {
 public:
  explicit Monitor(zmq::socket_t& socket) : socket_(socket) {
    static std::atomic<int> next{0};
    const std::string endpoint = "inproc://garbage-flood-monitor-" + std::to_string(++next);
    if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), ZMQ_EVENT_ALL) != 0) throw zmq::error_t();
    pair_.set(zmq::sockopt::linger, 0);
    pair_.set(zmq::sockopt::rcvhwm, 0);
    pair_.connect(endpoint);
  }
  ~Monitor() { Stop(); }
  // No more events; call before the monitored socket is closed.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    (void)zmq_socket_monitor(socket_.handle(), nullptr, 0);
  }
  // Reads events until one in `wanted` (a mask of ZMQ_EVENT_*) arrives: that event, or 0
  // after `timeout`.
  int WaitFor(int wanted, std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      zmq::message_t head;
      if (pair_.recv(head, zmq::recv_flags::dontwait)) {
        zmq::message_t address;
        if (head.more()) (void)pair_.recv(address);
        if (head.size() < 6) continue;
        std::uint16_t event = 0;
        std::memcpy(&event, head.data(), sizeof event);
        seen_ |= event;
        if ((event & wanted) != 0) return event;
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return 0;
      zmq::pollitem_t item{pair_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, left);
    }
  }
  // Reads the events that arrived so far; which kinds were seen, all told.
  int seen() {
    (void)WaitFor(0, 0ms);
    return seen_;
  }

 private:
  zmq::socket_t& socket_;
  zmq::socket_t pair_{SharedContext(), zmq::socket_type::pair};
  bool stopped_ = false;
  int seen_ = 0;
};

// A raw DEALER that sends whatever it is given without ever blocking in libzmq: at most
// kOutstanding messages wait in its queue (ZMQ_SNDHWM); past that, a send would block
// (EAGAIN), and it reads what the broker sent back and polls for room instead.
class RawDealer {
 public:
  static constexpr int kOutstanding = 1000;

  RawDealer(const std::string& endpoint, SocketOptions options) : socket_(Make(std::move(options))), monitor_(socket_) {
    socket_.connect(endpoint);
  }
  ~RawDealer() {
    monitor_.Stop();
    socket_.close();
  }

  // True once the connection is up and its handshake (NULL or CURVE) done.
  bool WaitConnected(std::chrono::milliseconds timeout) {
    return monitor_.WaitFor(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, timeout) != 0;
  }
  Monitor& monitor() { return monitor_; }

  // False when no room came before `deadline`: the broker stopped reading.
  bool Send(const std::vector<std::string>& frames, Clock::time_point deadline) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const zmq::send_flags flags =
          zmq::send_flags::dontwait | (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      while (!socket_.send(zmq::buffer(frames[i]), flags)) {
        DrainReplies();
        if (Clock::now() > deadline) return false;
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLOUT | ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, 50ms);
      }
    }
    return true;
  }
  // Reads and drops what the broker answered (errors, probe replies).
  void DrainReplies() {
    zmq::message_t frame;
    while (socket_.recv(frame, zmq::recv_flags::dontwait)) replies_ += frame.more() ? 0 : 1;
  }
  std::uint64_t replies() const { return replies_; }

 private:
  static zmq::socket_t Make(SocketOptions options) {
    options.send_hwm = kOutstanding;
    options.recv_hwm = kOutstanding;
    options.linger = 0ms;
    return MakeSocket(SharedContext(), zmq::socket_type::dealer, options);
  }

  zmq::socket_t socket_;
  Monitor monitor_;
  std::uint64_t replies_ = 0;
};

// Text that is no protobuf of any of the broker's messages: each starts with a byte whose
// wire type (its low three bits) is 6 or 7, which do not exist.
const std::vector<std::string>& TextsThatAreNotProtobuf() {
  static const std::vector<std::string> texts = {
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n" + std::string(512, 'A'),
      "/auth.User/post_save {\"pk\": 1}",
      "\x0f\x0f\x0f\x0f",
  };
  return texts;
}

// Prefixes of a serialized message at which its parse fails (a cut inside a field).
template <typename Message>
std::vector<std::string> PrefixesThatDoNotParse(const std::string& bytes) {
  std::vector<std::string> out;
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    Message m;
    if (!m.ParseFromString(bytes.substr(0, n))) out.push_back(bytes.substr(0, n));
  }
  return out;
}

// The garbage itself, from a fixed seed (a failure can be replayed): each message is made
// so that the broker's verdict on it is known — its reason on ingest, bad_request on live,
// malformed on groups — and counted into `expected`.
class GarbageMaker {
 public:
  explicit GarbageMaker(std::uint32_t seed) : random_(seed), pool_(2 * kMiB + 1, '\0') {
    for (char& c : pool_) c = static_cast<char>(random_() & 0xff);
    v1::Event valid = UserCreated("7");
    topic_ = TopicOf(valid);
    valid_event_ = EncodeEvent(valid);
    truncated_event_ = PrefixesThatDoNotParse<v1::Event>(valid_event_);
    v1::Event future = UserCreated("8");
    future.set_schema_version(2);
    future_event_ = EncodeEvent(future);
    v1::Event no_id = UserCreated("9");
    no_id.clear_event_id();
    no_id_event_ = EncodeEvent(no_id);

    v1::LiveRequest subscribe;
    for (const char* p : {"auth.User/*", "*/post_save", "shop.Order/order_paid"})
      subscribe.mutable_subscribe()->add_patterns(p);
    subscribe.mutable_subscribe()->set_window_bytes(1 << 20);
    subscribe.mutable_subscribe()->set_heartbeat_ms(500);
    truncated_live_ = PrefixesThatDoNotParse<v1::LiveRequest>(subscribe.SerializeAsString());
    v1::GroupRequest join;
    join.mutable_join()->set_group("garbage");
    join.mutable_join()->set_member_name("flood:1");
    join.mutable_join()->mutable_config()->add_subscriptions("*");
    join.mutable_join()->set_credits(64);
    truncated_join_ = PrefixesThatDoNotParse<v1::GroupRequest>(join.SerializeAsString());
  }

  // Whether the premises hold: truncations exist, and the texts parse as none of the
  // messages (else the expected verdicts would be guesses).
  bool Sound() const {
    if (truncated_event_.empty() || truncated_live_.empty() || truncated_join_.empty()) return false;
    for (const std::string& t : TextsThatAreNotProtobuf()) {
      v1::Event e;
      v1::LiveRequest l;
      v1::GroupRequest g;
      if (e.ParseFromString(t) || l.ParseFromString(t) || g.ParseFromString(t)) return false;
    }
    return true;
  }

  std::vector<std::string> Next(Endpoint endpoint, int i, Counts& expected) {
    std::vector<std::string> frames;
    switch (endpoint) {
      case Endpoint::kIngest: frames = NextIngest(i, expected); break;
      case Endpoint::kLive:
        frames = NextRequest(i, truncated_live_, kLiveFrameCap);
        ++expected["signalbus_live_refused_total{reason=\"bad_request\"}"];
        break;
      case Endpoint::kGroups:
        frames = NextRequest(i, truncated_join_, kGroupsFrameCap);
        ++expected["signalbus_group_refused_total{reason=\"malformed\"}"];
        ++expected["signalbus_group_bad_requests_total"];
        break;
    }
    std::size_t size = 0;
    for (const std::string& f : frames) size += f.size();
    bytes_ += size;
    largest_ = std::max(largest_, size + kFrameOverhead * frames.size());
    return frames;
  }

  // Bytes of every frame made so far, and the largest message (with libzmq's overhead
  // per frame).
  std::uint64_t bytes() const { return bytes_; }
  std::size_t largest() const { return largest_; }

 private:
  std::size_t Uniform(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(random_);
  }
  std::string Bytes(std::size_t lo, std::size_t hi) {
    const std::size_t n = Uniform(lo, hi);
    return pool_.substr(Uniform(0, pool_.size() - n), n);
  }
  // Random, but never an ingest kind ("$hello", "$batch") and never empty (a probe).
  std::string NotAKind(std::size_t lo, std::size_t hi) {
    std::string s = Bytes(std::max<std::size_t>(lo, 1), hi);
    if (s[0] == '$') s[0] = '#';
    return s;
  }
  // Wire type 7 in the first tag: no message parses, whatever follows.
  std::string NotProtobuf(std::size_t lo, std::size_t hi) { return "\x0f" + Bytes(lo, hi); }
  std::vector<std::string> ManyFrames(int lo, int hi, std::size_t max_size, bool empty) {
    std::vector<std::string> frames(Uniform(lo, hi));
    for (std::string& f : frames) f = empty ? std::string() : Bytes(0, max_size);
    if (!frames[0].empty() && frames[0][0] == '$') frames[0][0] = '#';
    return frames;
  }
  const std::string& Pick(const std::vector<std::string>& from) { return from[Uniform(0, from.size() - 1)]; }

  std::vector<std::string> NextIngest(int i, Counts& expected) {
    auto count = [&](const char* reason) { ++expected[Rejected(reason)]; };
    switch (i % 20) {
      case 0:
      case 1:
      case 2: count("frame_count"); return {NotAKind(1, 2048)};
      case 3: count("frame_count"); return ManyFrames(3, 64, 64, /*empty=*/false);
      case 4: count("frame_count"); return ManyFrames(3, 64, 0, /*empty=*/true);
      case 5: count("frame_count"); return {NotAKind(1, 1024), Bytes(0, 1024), Bytes(0, 1024)};
      case 6:
      case 7:  // 0xff is in no topic; the event is within --max-event-bytes
        count("bad_topic");
        return {"\xff" + Bytes(0, 40), Bytes(0, kMaxEventBytes)};
      case 8: count("bad_topic"); return {"", Bytes(0, 2048)};
      case 9: count("bad_topic"); return {"", ""};
      case 10: count("bad_topic"); return {"auth.User/post save", valid_event_};
      case 11: count("undecodable"); return {topic_, ""};
      case 12:
      case 13: count("undecodable"); return {topic_, NotProtobuf(0, 4000)};
      case 14: count("undecodable"); return {topic_, Pick(TextsThatAreNotProtobuf())};
      case 15: count("undecodable"); return {topic_, Pick(truncated_event_)};
      case 16:  // over --max-event-bytes, under ZeroMQ's cap: read and refused
        count("oversized");
        return {topic_, Bytes(kMaxEventBytes + 1, 2 * kMaxEventBytes)};
      case 17: count("topic_mismatch"); return {"shop.Order/post_save", valid_event_};
      case 18: count("invalid_event"); return {topic_, future_event_};
      default: count("invalid_event"); return {topic_, no_id_event_};
    }
  }

  // Live and groups: one request frame per message, so every one of these is refused:
  // not one frame, or one that is no request.
  std::vector<std::string> NextRequest(int i, const std::vector<std::string>& truncated, std::size_t cap) {
    switch (i % 10) {
      case 0:
      case 1:
      case 2: return {NotProtobuf(0, 2048)};
      case 3: return {""};  // parses as a request of no kind
      case 4: return {Pick(TextsThatAreNotProtobuf())};
      case 5: return {Pick(truncated)};
      case 6: return {Bytes(0, 1024), Bytes(0, 1024)};
      case 7: return ManyFrames(3, 64, 128, /*empty=*/false);
      case 8: return ManyFrames(2, 64, 0, /*empty=*/true);
      default:
        // Large, under the socket's cap: on live up to just under it (16 KiB), on
        // groups requests of 256 KiB to 1 MiB.
        if (cap <= kLiveFrameCap && i % 100 == 9) return {NotProtobuf(cap / 2, cap - kUnderTheCap - 1)};
        if (cap > kLiveFrameCap && i % 5000 == 9) return {NotProtobuf(256 << 10, 1 << 20)};
        return {NotProtobuf(2048, 8192)};
    }
  }

  std::mt19937 random_;
  std::string pool_;
  std::string topic_;
  std::string valid_event_;
  std::string future_event_;
  std::string no_id_event_;
  std::vector<std::string> truncated_event_;
  std::vector<std::string> truncated_live_;
  std::vector<std::string> truncated_join_;
  std::uint64_t bytes_ = 0;
  std::size_t largest_ = 0;
};

// Frames over each socket's ZMQ_MAXMSGSIZE: libzmq closes the connection at the frame's
// header; the broker never sees them.
std::vector<std::vector<std::string>> FramesOverTheCap(Endpoint endpoint) {
  const std::size_t cap = endpoint == Endpoint::kIngest ? kIngestFrameCap
                          : endpoint == Endpoint::kLive ? kLiveFrameCap
                                                        : kGroupsFrameCap;
  std::vector<std::vector<std::string>> out;
  for (std::size_t size : {cap + 1, 2 * cap, 8 * cap}) {
    if (endpoint == Endpoint::kIngest) {
      out.push_back({"auth.User/post_save", std::string(size, 'x')});
    } else {
      out.push_back({std::string(size, 'x')});
    }
  }
  return out;
}

// The most the broker may hold for the flood at once, from its own caps: the flood
// connection's inbound queue (`queue` messages, ZMQ_RCVHWM), plus the one libzmq is
// decoding and the one the broker is reading, none larger than the largest message sent
// (each message under the socket's frame cap; the frames over it are dropped at their
// header and cost nothing), plus kSlack. Its replies are bounded apart (groups: 100
// replies of under 200 bytes; live: 20 a second).
std::uint64_t FloodBound(Endpoint endpoint, std::size_t largest) {
  const int queue = endpoint == Endpoint::kIngest ? kIngestQueue
                    : endpoint == Endpoint::kLive ? kLiveQueue
                                                  : kGroupsQueue;
  return static_cast<std::uint64_t>(queue + 2) * largest + kSlack;
}

double MiB(std::uint64_t bytes) { return static_cast<double>(bytes) / kMiB; }

// A broker with a real publisher, group member and live listener, warmed up; the valid
// traffic every test here checks was served whole.
class BrokerUnderFireTest : public ::testing::Test {
 protected:
  void Start(bool curve) {
    curve_ = curve;
    std::vector<std::string> args{"--max-event-bytes", std::to_string(kMaxEventBytes)};
    SpawnOptions clients;
    if (curve) {
      broker_key_ = MakeTestKey(dir_, "broker");
      service_key_ = MakeTestKey(dir_, "service");
      flooder_key_ = MakeTestKey(dir_, "flooder");
      const std::string allow = dir_ + "/allow.toml";
      std::ofstream out(allow);
      for (const auto& [name, key] :
           {std::pair<std::string, TestKey>{"service", service_key_}, {"flooder", flooder_key_}}) {
        out << "[[principal]]\nname = \"" << name << "\"\nkeys = [\"" << key.public_key
            << "\"]\npublish = [\"*/*\"]\nsubscribe = [\"*/*\"]\njoin = [\"*\"]\nadmin = [\"*\"]\n\n";
      }
      out.close();
      args.insert(args.end(), {"--curve-key-file", broker_key_.key_file, "--allow-list", allow});
      clients.env = {{kCurveServerKeyEnv, broker_key_.public_key}, {kCurveKeyFileEnv, service_key_.key_file}};
    }
    broker_ = std::make_unique<BrokerProcess>(args);
    ASSERT_TRUE(broker_->ready());
    pid_ = broker_->process().pid();
    audit_ = std::make_unique<Process>(
        "signalbus-audit",
        std::vector<std::string>{"--file", audit_path_, "--groups", broker_->groups(), "--start", "earliest"}, clients);
    listener_ =
        std::make_unique<Process>("signalbus-listen", std::vector<std::string>{"--live", broker_->live()}, clients);
    ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_members{group=\"audit\"}", 1, 20s)) << audit_->Stderr();
    ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << listener_->Stderr();

    PublisherOptions options;
    options.endpoint = broker_->ingest();
    options.source = "garbage-flood";
    if (curve) options.curve = CurveClientSettings{broker_key_.public_key, service_key_.key_file};
    Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(options);
    ASSERT_TRUE(connected.ok()) << connected.status().ToString();
    publisher_ = std::move(connected).value();

    // Warm every path an event takes (ingest, log, group, live) before the baseline.
    ASSERT_TRUE(PublishUpTo(kWarmUp));
    Status flushed = publisher_->Flush(30s);
    ASSERT_TRUE(flushed.ok()) << flushed.ToString();
    ASSERT_TRUE(WaitDelivered(kWarmUp));
    baseline_ = Rss();
  }

  // Who the garbage comes from: without CURVE no one; with it the granted "flooder".
  SocketOptions FlooderOptions() const {
    if (!curve_) return ClientSocketOptions();  // CURVE only in a SIGNALBUS_TEST_CURVE=1 run
    SocketOptions options;
    Result<CurveKeyPair> keys = ReadCurveSecretFile(flooder_key_.key_file);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    options.curve = CurveSecurity{false, keys.ok() ? *keys : CurveKeyPair{}, broker_key_.public_key};
    return options;
  }
  std::string Security() const {
    if (curve_) return "with CURVE";
    return CurveSuiteOn() ? "without CURVE of its own (suite CURVE on)" : "without CURVE";
  }

  // Publishes valid events (new users) until `total` were published.
  bool PublishUpTo(int total) {
    while (static_cast<int>(ids_.size()) < total) {
      v1::Event event = UserCreated(std::to_string(100'000 + ids_.size()));
      event.clear_publisher_id();
      event.clear_sequence();
      ids_.push_back(event.event_id());
      Status s = publisher_->Publish(event);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) return false;
    }
    return true;
  }

  // Until the group member and the live listener each have the first `n` events.
  bool WaitDelivered(std::size_t n) {
    LineCounter audited(audit_path_);
    LineCounter printed(listener_->stdout_path());
    const bool done = Eventually([&] { return audited.Count() >= n && printed.Count() >= n; }, 60s);
    EXPECT_TRUE(done) << "the group has " << audited.Count() << " and the listener " << printed.Count() << " of " << n
                      << " events\naudit: " << audit_->Stderr() << "\nlisten: " << listener_->Stderr();
    return done;
  }

  // Every event confirmed; the group got each (at least once), the listener each once, in
  // order; the log holds each once; the broker is the one started, still serving.
  void ExpectAllServed() {
    Status flushed = publisher_->Flush(60s);
    ASSERT_TRUE(flushed.ok()) << flushed.ToString();
    EXPECT_EQ(publisher_->unconfirmed(), 0u);
    ASSERT_TRUE(WaitDelivered(ids_.size()));
    const std::vector<std::string> audited = EventIdsInFile(audit_path_);
    EXPECT_EQ(std::set<std::string>(audited.begin(), audited.end()), std::set<std::string>(ids_.begin(), ids_.end()));
    EXPECT_EQ(EventIdsInFile(listener_->stdout_path()), ids_);
    EXPECT_EQ(listener_->Stderr().find("dropped"), std::string::npos) << listener_->Stderr();
    EXPECT_TRUE(Eventually([&] { return broker_->Metric("signalbus_log_durable_offset") == ids_.size(); }, 10s));
    EXPECT_EQ(broker_->Metric("signalbus_log_appended_total"), ids_.size());
    EXPECT_EQ(broker_->process().pid(), pid_);
    EXPECT_TRUE(broker_->process().Running()) << broker_->process().Stderr();
    EXPECT_EQ(HttpGet(broker_->metrics_url(), "/healthz"), "ok\n");
    EXPECT_TRUE(audit_->Running()) << audit_->Stderr();
    EXPECT_TRUE(listener_->Running()) << listener_->Stderr();
  }

  std::uint64_t Rss() const { return ResidentBytes(pid_).value_or(0); }
  std::uint64_t PeakRss() const { return PeakResidentBytes(pid_).value_or(0); }

  std::string dir_ = MakeTempDir("sb-garbage-flood");
  std::string audit_path_ = dir_ + "/audit.ndjson";
  bool curve_ = false;
  TestKey broker_key_, service_key_, flooder_key_;
  std::unique_ptr<BrokerProcess> broker_;
  pid_t pid_ = -1;
  std::unique_ptr<Process> audit_;
  std::unique_ptr<Process> listener_;
  std::unique_ptr<Publisher> publisher_;  // destroyed before the broker
  std::vector<std::string> ids_;          // every valid event published, in order
  std::uint64_t baseline_ = 0;
};

// ---- 100,000 garbage messages at one endpoint --------------------------------------------

struct FloodCase {
  Endpoint endpoint;
  bool curve;
};
void PrintTo(const FloodCase& c, std::ostream* os) {
  *os << Name(c.endpoint) << (c.curve ? ", with CURVE" : ", without CURVE");
}

class GarbageFloodTest : public BrokerUnderFireTest, public ::testing::WithParamInterface<FloodCase> {
 protected:
  const std::string& EndpointOf(Endpoint e) const {
    return e == Endpoint::kIngest ? broker_->ingest() : e == Endpoint::kLive ? broker_->live() : broker_->groups();
  }
  // Sends one frame over the socket's cap on a connection of its own; true when the
  // broker closed that connection.
  bool CutOff(Endpoint endpoint, const std::vector<std::string>& frames) {
    RawDealer big(EndpointOf(endpoint), FlooderOptions());
    if (!big.WaitConnected(20s)) return false;
    if (!big.Send(frames, Clock::now() + 20s)) return false;
    return big.monitor().WaitFor(ZMQ_EVENT_DISCONNECTED, 20s) != 0;
  }
};

TEST_P(GarbageFloodTest,
       AHundredThousandGarbageMessagesAreCountedExactlyWhileEveryConfirmedEventIsDeliveredInBoundedRss) {
  const FloodCase param = GetParam();
  Start(param.curve);
  ASSERT_FALSE(HasFatalFailure());
  GarbageMaker garbage(20260601 + static_cast<std::uint32_t>(param.endpoint));
  ASSERT_TRUE(garbage.Sound());

  RawDealer flooder(EndpointOf(param.endpoint), FlooderOptions());
  ASSERT_TRUE(flooder.WaitConnected(20s)) << "the flooder was not let in";
  const std::vector<std::vector<std::string>> over_cap = FramesOverTheCap(param.endpoint);
  std::size_t next_over_cap = 0;
  int cut_off = 0;

  Counts expected;
  std::uint64_t peak = baseline_;
  std::uint64_t half_rss = 0;
  std::uint64_t half_bytes = 0;
  const Clock::time_point started = Clock::now();
  const Clock::time_point deadline = started + 120s;
  for (int i = 0; i < kGarbage; ++i) {
    ASSERT_TRUE(flooder.Send(garbage.Next(param.endpoint, i, expected), deadline))
        << "the broker stopped reading the flood at message " << i;
    if (i % kGarbagePerEvent == 0) {
      ASSERT_TRUE(PublishUpTo(kWarmUp + i / kGarbagePerEvent + 1));
    }
    if (i % 1000 == 999) peak = std::max(peak, Rss());
    // At a quarter, half and three quarters: a frame over the cap, on its own connection.
    if (next_over_cap < over_cap.size() && i == static_cast<int>((next_over_cap + 1) * kGarbage / 4)) {
      cut_off += CutOff(param.endpoint, over_cap[next_over_cap++]) ? 1 : 0;
    }
    if (i + 1 == kGarbage / 2) {
      ASSERT_TRUE(Eventually([&] { return AllCounted(*broker_, expected); }, 60s))
          << "half the flood not counted:" << Compare(*broker_, expected) << "\nthe flood's connection "
          << ((flooder.monitor().seen() & ZMQ_EVENT_DISCONNECTED) ? "was dropped" : "is up") << "; broker stderr:\n"
          << broker_->process().Stderr();
      half_rss = Rss();
      half_bytes = garbage.bytes();
      peak = std::max(peak, half_rss);
    }
  }
  const double sent_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_TRUE(Eventually([&] { return AllCounted(*broker_, expected); }, 60s))
      << "the flood not counted:" << Compare(*broker_, expected) << "\nthe flood's connection "
      << ((flooder.monitor().seen() & ZMQ_EVENT_DISCONNECTED) ? "was dropped" : "is up") << "; broker stderr:\n"
      << broker_->process().Stderr();
  const double counted_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::uint64_t end_rss = Rss();
  peak = std::max(peak, end_rss);
  flooder.DrainReplies();

  ExpectAllServed();

  // Exactly what was sent, by reason, at this endpoint; nothing at the others, and nothing
  // refused by access control (the flooder is a granted principal).
  std::map<std::string, double> counted = ReadCounters(*broker_, GarbageCounters());
  std::uint64_t total = 0;
  for (const auto& [sample, value] : counted) {
    const std::uint64_t want = expected.count(sample) ? expected.at(sample) : 0;
    EXPECT_EQ(value, static_cast<double>(want)) << sample;
  }
  for (const auto& [sample, n] : expected) {
    EXPECT_TRUE(counted.count(sample)) << sample;
    if (sample != "signalbus_group_bad_requests_total") total += n;
  }
  EXPECT_EQ(total, static_cast<std::uint64_t>(kGarbage));
  EXPECT_EQ(cut_off, static_cast<int>(over_cap.size())) << "connections sending frames over the cap were not all cut";
  EXPECT_EQ(flooder.monitor().seen() & ZMQ_EVENT_DISCONNECTED, 0) << "the flood's own connection was dropped";

  const std::uint64_t bound = FloodBound(param.endpoint, garbage.largest());
  const std::uint64_t hwm = PeakRss();
  std::printf(
      "[ figures  ] %s, %s: %d garbage messages (%.1f MiB; the largest %zu bytes with 64 a frame) sent in %.1f s, "
      "counted in "
      "%.1f s; %d frames over the %zu-byte cap cut off; %d events confirmed and delivered; %llu replies read\n",
      Name(param.endpoint), Security().c_str(), kGarbage, MiB(garbage.bytes()), garbage.largest(), sent_seconds,
      counted_seconds, cut_off,
      param.endpoint == Endpoint::kIngest ? kIngestFrameCap
      : param.endpoint == Endpoint::kLive ? kLiveFrameCap
                                          : kGroupsFrameCap,
      kEvents, static_cast<unsigned long long>(flooder.replies()));
  std::printf(
      "[ figures  ] %s, %s: broker RSS baseline %.1f MiB, at half %.1f MiB, at end %.1f MiB, peak sampled "
      "%.1f MiB, VmHWM %.1f MiB; bound %.1f MiB (baseline + %.1f MiB)\n",
      Name(param.endpoint), Security().c_str(), MiB(baseline_), MiB(half_rss), MiB(end_rss), MiB(peak), MiB(hwm),
      MiB(baseline_ + bound), MiB(bound));
  for (const auto& [sample, n] : expected) {
    std::printf("[ figures  ] %s, %s:   %s %llu\n", Name(param.endpoint), Security().c_str(), sample.c_str(),
                static_cast<unsigned long long>(n));
  }
  EXPECT_LE(peak, baseline_ + bound);
  EXPECT_LE(hwm, baseline_ + bound);
  // The second half cannot have kept what it was sent.
  ASSERT_GT(garbage.bytes() - half_bytes, 3 * kSecondHalfGrowth);
  EXPECT_LE(end_rss, half_rss + kSecondHalfGrowth)
      << "the broker grew by " << MiB(end_rss - half_rss) << " MiB over the second half of the flood";
}

INSTANTIATE_TEST_SUITE_P(EveryEndpoint, GarbageFloodTest,
                         ::testing::Values(FloodCase{Endpoint::kIngest, false}, FloodCase{Endpoint::kLive, false},
                                           FloodCase{Endpoint::kGroups, false}, FloodCase{Endpoint::kIngest, true},
                                           FloodCase{Endpoint::kLive, true}, FloodCase{Endpoint::kGroups, true}),
                         [](const ::testing::TestParamInfo<FloodCase>& info) {
                           std::string name = Name(info.param.endpoint);
                           name[0] = static_cast<char>(name[0] - 'a' + 'A');
                           return name + (info.param.curve ? "WithCurve" : "WithoutCurve");
                         });

// ---- Peers that never authenticate ------------------------------------------------------

int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int PortOf(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

// Writes what it can: the broker may close the connection before all of it is read.
void WriteSome(int fd, const std::string& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return;
    at += static_cast<std::size_t>(n);
  }
}

// Raw TCP connections to the broker, watched until it closes them: what it sends is read
// and dropped; an EOF or a reset is a close, timed from the connection's opening.
class RawConnections {
 public:
  ~RawConnections() {
    for (const Peer& p : peers_) {
      if (p.fd >= 0) ::close(p.fd);
    }
  }
  // Connects and writes `bytes` (as much as the broker reads before it closes).
  bool Open(int port, const std::string& bytes) {
    Peer p{ConnectTcp(port), Clock::now(), {}};
    if (p.fd < 0) return false;
    WriteSome(p.fd, bytes);
    peers_.push_back(p);
    return true;
  }
  // Watches until every connection is closed or `timeout` passes (0: only what is there).
  void Watch(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    std::vector<pollfd> polled;
    std::vector<Peer*> open;
    char buffer[4096];
    while (true) {
      polled.clear();
      open.clear();
      for (Peer& p : peers_) {
        if (p.fd < 0) continue;
        polled.push_back(pollfd{p.fd, POLLIN, 0});
        open.push_back(&p);
      }
      if (polled.empty()) return;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(polled.data(), polled.size(), static_cast<int>(std::max<std::int64_t>(left.count(), 0))) <= 0) {
        if (Clock::now() >= deadline) return;
        continue;
      }
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if (polled[i].revents == 0) continue;
        const ssize_t n = ::recv(polled[i].fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;
        Peer& p = *open[i];  // EOF, or reset
        p.lasted = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p.opened);
        ::close(p.fd);
        p.fd = -1;
      }
    }
  }
  int size() const { return static_cast<int>(peers_.size()); }
  int closed() const {
    return static_cast<int>(std::count_if(peers_.begin(), peers_.end(), [](const Peer& p) { return p.fd < 0; }));
  }
  std::chrono::milliseconds longest() const {
    std::chrono::milliseconds out{0};
    for (const Peer& p : peers_) out = std::max(out, p.lasted);
    return out;
  }

 private:
  struct Peer {
    int fd;
    Clock::time_point opened;
    std::chrono::milliseconds lasted;
  };
  std::vector<Peer> peers_;
};

// ZMTP 3.0 (RFC 23/37): a greeting naming `mechanism`, and a command frame.
const std::string kSignature("\xff\0\0\0\0\0\0\0\x01\x7f", 10);
std::string Greeting(const std::string& mechanism, char major = 3) {
  std::string g = kSignature;
  g += major;
  g += '\0';
  std::string m = mechanism;
  m.resize(20, '\0');
  g += m;
  g += '\0';  // as-server
  g.append(31, '\0');
  return g;
}
std::string Command(const std::string& name, const std::string& data) {
  const std::string body = static_cast<char>(name.size()) + name + data;
  std::string frame;
  if (body.size() < 256) {
    frame = {'\x04', static_cast<char>(body.size())};
  } else {
    frame = "\x06";
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((body.size() >> shift) & 0xff);
  }
  return frame + body;
}

class UnauthenticatedPeersTest : public BrokerUnderFireTest {};

TEST_F(UnauthenticatedPeersTest, RawTcpGarbageBogusGreetingsAndUnknownKeysAreCutOffAtEveryEndpointAndReachNothing) {
  Start(/*curve=*/true);
  ASSERT_FALSE(HasFatalFailure());
  std::mt19937 random(20260602);
  auto bytes = [&](std::size_t lo, std::size_t hi) {
    std::string s(std::uniform_int_distribution<std::size_t>(lo, hi)(random), '\0');
    for (char& c : s) c = static_cast<char>(random() & 0xff);
    return s;
  };
  // What a stranger writes to a CURVE endpoint, each many times, and which libzmq refuses
  // as soon as it reads it. ZMTP 1.0 and 2.0 peers (a first byte other than 0xff, or
  // revision 1) are refused outright where ZAP is on; a mechanism other than CURVE, a
  // HELLO that does not decrypt, a frame over ZMQ_MAXMSGSIZE, likewise.
  const std::vector<std::pair<std::string, std::function<std::string()>>> kinds = {
      {"random bytes",
       [&] {
         std::string s = bytes(1, 1024);
         if (static_cast<unsigned char>(s[0]) == 0xff) s[0] = 0x00;
         return s;
       }},
      {"NULL greeting, READY, a message",
       [&] {
         return Greeting("NULL") +
                Command("READY", std::string("\x0bSocket-Type\0\0\0\x06"
                                             "DEALER",
                                             22)) +
                std::string("\x00\x05hello", 7);
       }},
      {"PLAIN greeting and HELLO",
       [&] {
         return Greeting("PLAIN") + Command("HELLO",
                                            "\x08"
                                            "accounts\x06secret");
       }},
      {"CURVE greeting, HELLO with bogus keys",
       [&] {
         return Greeting("CURVE") +
                Command("HELLO", std::string("\x01\x00", 2) + std::string(72, '\0') + bytes(120, 120));
       }},
      {"CURVE greeting, a frame of 2^40 bytes",
       [&] { return Greeting("CURVE") + std::string("\x06\x00\x00\x01\x00\x00\x00\x00\x00", 9) + bytes(100, 100); }},
      {"ZMTP 2.0 greeting", [&] { return Greeting("CURVE", 1) + bytes(0, 256); }},
  };
  constexpr int kBatches = 2;
  constexpr int kPerBatch = 50;  // under libzmq's listen backlog of 100
  constexpr int kSlowPerEndpoint = 20;
  constexpr int kUnknownKeys = 20;
  const std::vector<Endpoint> endpoints = {Endpoint::kIngest, Endpoint::kLive, Endpoint::kGroups};
  auto address = [&](Endpoint e) -> const std::string& {
    return e == Endpoint::kIngest ? broker_->ingest() : e == Endpoint::kLive ? broker_->live() : broker_->groups();
  };

  // Connections the broker can only time out (its handshake interval, 5 s): the signature
  // and then silence, or a CURVE greeting and random bytes that may announce a frame
  // longer than what follows. Opened first, watched throughout.
  RawConnections slow;
  for (Endpoint e : endpoints) {
    for (int i = 0; i < kSlowPerEndpoint; ++i) {
      ASSERT_TRUE(slow.Open(PortOf(address(e)), kSignature)) << std::strerror(errno);
      ASSERT_TRUE(slow.Open(PortOf(address(e)), Greeting("CURVE") + bytes(1, 2048))) << std::strerror(errno);
    }
  }

  const int steps = static_cast<int>(endpoints.size()) * (static_cast<int>(kinds.size()) * kBatches + 1);
  int step = 0;
  auto interleave = [&] {
    slow.Watch(0ms);
    return PublishUpTo(kWarmUp + kEvents * ++step / steps);
  };
  for (Endpoint endpoint : endpoints) {
    std::chrono::milliseconds longest{0};
    int cut = 0;
    for (const auto& [what, payload] : kinds) {
      for (int b = 0; b < kBatches; ++b) {
        RawConnections batch;
        for (int i = 0; i < kPerBatch; ++i)
          ASSERT_TRUE(batch.Open(PortOf(address(endpoint)), payload())) << std::strerror(errno);
        batch.Watch(20s);
        EXPECT_EQ(batch.closed(), kPerBatch) << Name(endpoint) << ": " << what << ": connections left open";
        cut += batch.closed();
        longest = std::max(longest, batch.longest());
        ASSERT_TRUE(interleave());
      }
    }

    // ZeroMQ clients with keys the allow-list does not hold, each sending what a client
    // of this endpoint would: refused by the broker's ZAP handler (ERROR 400).
    std::vector<std::unique_ptr<RawDealer>> strangers;
    v1::Event event = UserCreated("666");
    v1::LiveRequest subscribe;
    subscribe.mutable_subscribe()->add_patterns("*");
    v1::GroupRequest join;
    join.mutable_join()->set_group("stolen");
    join.mutable_join()->mutable_config()->add_subscriptions("*");
    const std::vector<std::string> frames =
        endpoint == Endpoint::kIngest ? std::vector<std::string>{TopicOf(event), EncodeEvent(event)}
        : endpoint == Endpoint::kLive ? std::vector<std::string>{subscribe.SerializeAsString()}
                                      : std::vector<std::string>{join.SerializeAsString()};
    for (int i = 0; i < kUnknownKeys; ++i) {
      Result<CurveKeyPair> keys = GenerateCurveKeyPair();
      ASSERT_TRUE(keys.ok()) << keys.status().ToString();
      SocketOptions options;
      options.curve = CurveSecurity{false, *keys, broker_key_.public_key};
      strangers.push_back(std::make_unique<RawDealer>(address(endpoint), options));
      ASSERT_TRUE(strangers.back()->Send(frames, Clock::now() + 10s));  // queued: no connection takes it
    }
    int refused = 0;
    std::string seen;
    const Clock::time_point deadline = Clock::now() + 30s;
    for (auto& s : strangers) {
      const auto left = std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      refused += s->monitor().WaitFor(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, left) != 0 ? 1 : 0;
      char mask[16];
      std::snprintf(mask, sizeof mask, " %#x", s->monitor().seen());
      seen += mask;
    }
    EXPECT_EQ(refused, kUnknownKeys) << Name(endpoint) << ": monitor events seen per client:" << seen
                                     << "; ZAP refusals "
                                     << broker_->Metric("signalbus_auth_refused_total{op=\"connect\"}")
                                     << ", handler up " << broker_->Metric("signalbus_auth_handler_up")
                                     << "\nbroker stderr:\n"
                                     << broker_->process().Stderr();
    strangers.clear();
    ASSERT_TRUE(interleave());

    std::printf(
        "[ figures  ] unauthenticated at %s: %d raw TCP connections (%zu kinds) cut off, the slowest after %lld "
        "ms; %d clients with unknown keys refused; broker RSS %.1f MiB (baseline %.1f MiB)\n",
        Name(endpoint), cut, kinds.size(), static_cast<long long>(longest.count()), refused, MiB(Rss()),
        MiB(baseline_));
  }
  slow.Watch(30s);
  EXPECT_EQ(slow.closed(), slow.size()) << "connections outlived the handshake interval";
  std::printf(
      "[ figures  ] unauthenticated: %d of %d silent or unfinished handshakes timed out by the broker, the "
      "longest after %lld ms\n",
      slow.closed(), slow.size(), static_cast<long long>(slow.longest().count()));

  ASSERT_TRUE(PublishUpTo(kWarmUp + kEvents));
  ExpectAllServed();
  // Each unknown key was refused at least once (libzmq retries a refused handshake).
  EXPECT_TRUE(broker_->WaitForMetric("signalbus_auth_refused_total{op=\"connect\"}", 3 * kUnknownKeys, 20s))
      << broker_->Metric("signalbus_auth_refused_total{op=\"connect\"}");
  // Nothing any of them sent reached the broker's code: no message, no request, no event.
  std::map<std::string, double> counted = ReadCounters(*broker_, GarbageCounters());
  for (const auto& [sample, value] : counted) EXPECT_EQ(value, 0) << sample;
  EXPECT_EQ(broker_->Metric("signalbus_live_listeners"), 1);
  EXPECT_EQ(broker_->Metric("signalbus_group_members{group=\"stolen\"}"), -1) << "no such group";

  // Nothing is queued for a connection that never authenticated: handshakes in progress
  // (at most 50 + 120 at once, a few KiB of libzmq buffers each) and allocator slack.
  const std::uint64_t bound = kSlack;
  std::printf(
      "[ figures  ] unauthenticated, with CURVE: broker RSS baseline %.1f MiB, at end %.1f MiB, VmHWM %.1f MiB; "
      "bound %.1f MiB; %.0f handshakes refused by ZAP\n",
      MiB(baseline_), MiB(Rss()), MiB(PeakRss()), MiB(baseline_ + bound),
      broker_->Metric("signalbus_auth_refused_total{op=\"connect\"}"));
  EXPECT_LE(Rss(), baseline_ + bound);
  EXPECT_LE(PeakRss(), baseline_ + bound);
}

}  // namespace
}  // namespace signalbus::testing
