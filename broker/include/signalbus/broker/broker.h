// The broker: wires ingest, publisher sessions, the durable log, live fan-out, consumer
// groups and metrics together and runs the poll loop that drives them, all on the
// calling thread (the log's committer, the group state writer and the metrics HTTP
// server have threads of their own). main.cc is only flags, signals and exit codes.
//
// An accepted event's way, in Broker::OnEvent (a batch's, in Broker::OnBatch): the
// sessions admit it (sequence rules), the journal appends it (a batch with one record),
// the groups learn its key, the live fan-out forwards it. Its confirm goes back to the
// connection that sent it once the log is durable.
//
//   publisher DEALER -> Ingest (ROUTER) -> PublisherSessions -> Journal -> LiveFanout -> listeners
//        ^                                        |                |
//        +-- confirms, session replies -----------+                +-- durable -> Coordinator -> groups
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/auth/zap_handler.h"
#include "signalbus/broker/access_control.h"
#include "signalbus/broker/group_channel.h"
#include "signalbus/broker/ingest.h"
#include "signalbus/broker/journal.h"
#include "signalbus/broker/live_fanout.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/broker/metrics_server.h"
#include "signalbus/broker/publisher_sessions.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"
#include "signalbus/core/status.h"

namespace signalbus::broker {

struct BrokerOptions {
  std::string ingest_endpoint = std::string(kDefaultIngestEndpoint);
  // Where plain ZeroMQ PUB sockets may publish fire-and-forget events (an XSUB); empty: off.
  std::string ingest_pub_endpoint;
  std::string live_endpoint = std::string(kDefaultLiveEndpoint);
  // Consumer groups (ROUTER). Their state lives in "<journal.data_dir>/groups".
  std::string groups_endpoint = std::string(kDefaultGroupsEndpoint);
  // Limits and defaults of the consumer groups (state_dir is set from journal.data_dir).
  groups::CoordinatorOptions groups;
  // Replies queued per connection on the groups endpoint before more are dropped.
  int groups_peer_queue = GroupChannel::kDefaultPeerQueue;
  // Where /metrics is served; nullopt turns the HTTP server off.
  std::optional<MetricsAddress> metrics;
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
  // Messages queued per publisher connection inbound (ZeroMQ's receive high-water mark):
  // about what one publisher can make the broker buffer, times the largest frame.
  int ingest_queue_messages = 1000;
  // Bounds on one publish batch (told to each publisher when its session opens).
  std::size_t max_batch_events = kDefaultMaxBatchEvents;
  std::size_t max_batch_bytes = kDefaultMaxBatchBytes;
  // Publisher identity: how many ids, how many recent event ids each (the journal's
  // dedupe_window is how long an idle one is remembered).
  std::size_t max_publishers = 10'000;
  // With CURVE on, the most of those one principal may hold (0: no bound of its own).
  std::size_t max_publishers_per_principal = 1'000;
  // With CURVE on, the most consumer-group members one principal may have in all groups
  // together (0: no bound of its own; groups.max_members still bounds each group).
  std::size_t max_group_members_per_principal = 2'000;
  // With CURVE on, the most live listeners one principal may hold (0: no bound of its own).
  std::size_t max_live_listeners_per_principal = 64;
  // With CURVE on, the most live window bytes one principal's listeners may hold together
  // (0: no bound of its own; live.total_window_bytes still bounds them all).
  std::uint64_t live_window_bytes_per_principal = std::uint64_t{64} << 20;
  std::size_t publisher_verify_window = 65'536;
  // The live fan-out's limits: listeners, patterns, windows, heartbeats.
  LiveOptions live;
  // The durable log: where, how it syncs, retention.
  JournalOptions journal;
  // CURVE on every endpoint (docs/security.md): the broker's secret key file (mode 0600,
  // from signalbus-keygen) and the allow-list of client keys, principals and grants
  // (reloaded on Reload()). Both empty: no security (loopback, or ipc:// in a private
  // directory); one without the other is refused.
  std::string curve_key_file;
  std::string allow_list_file;
  // Rotating the broker's key (docs/security.md): the next key's secret file, served on a
  // second endpoint of each socket (every endpoint in use needs one) while the current key
  // keeps its own. All empty: no rotation.
  std::string curve_next_key_file;
  std::string ingest_next_endpoint;
  std::string ingest_pub_next_endpoint;
  std::string live_next_endpoint;
  std::string groups_next_endpoint;
  // How often retention runs.
  std::chrono::milliseconds maintenance_interval{5000};
  // How often the per-group gauges on /metrics (lag, pending, ...) are refreshed.
  std::chrono::milliseconds group_gauges_interval{1000};
  // Longest wait in one poll: how late a shutdown request may be noticed.
  std::chrono::milliseconds poll_timeout{100};
  // Rejected messages logged at warn: `reject_log_burst` at once, then this many per second.
  double reject_log_per_second = 5;
  double reject_log_burst = 20;
  // How often a "N more rejected messages suppressed" line may be written.
  std::chrono::milliseconds suppressed_report_interval{10'000};
};

// Used from one thread. The context must outlive the broker.
class Broker : private IngestHandler {
 public:
  explicit Broker(BrokerOptions options, zmq::context_t& context = SharedContext());
  ~Broker();  // Stop()
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Binds ingest, live and metrics. An error names what could not be bound and why
  // ("cannot bind tcp://127.0.0.1:5555: Address already in use"); nothing stays bound.
  Status Start();

  // Polls and handles messages until ShutdownRequested(). An interrupted wait (EINTR)
  // is a wake-up. Returns an error only if a socket fails (not for anything a peer
  // sends). REQUIRES: Start() succeeded.
  Status Run();
  // One poll (waiting up to `timeout`) and whatever it found. For Run() and for tests
  // that drive the broker themselves.
  Status PollOnce(std::chrono::milliseconds timeout);

  // Closes everything and logs the totals in one line. Idempotent.
  void Stop();

  // Reads the allow-list file again (SIGHUP): later handshakes and every later message
  // are checked against the new one. A file that does not parse keeps the old list, and
  // the error says why. OK and nothing done when CURVE is off.
  Status ReloadAllowList();
  // The ZAP handler, null with CURVE off (tests stop it to see the broker fail closed).
  auth::ZapHandler* zap_handler() { return zap_.get(); }

  // REQUIRES: Start() succeeded.
  const std::string& ingest_endpoint() const { return ingest_->endpoint(); }
  // "" when --ingest-pub is off.
  std::string ingest_pub_endpoint() const { return pub_ingest_ ? pub_ingest_->endpoint() : std::string(); }
  const std::string& live_endpoint() const { return live_->endpoint(); }
  const std::string& groups_endpoint() const { return group_channel_->endpoint(); }
  // The endpoints of the next key while it is rotated; "" otherwise.
  const std::string& ingest_next_endpoint() const { return ingest_->next_endpoint(); }
  std::string ingest_pub_next_endpoint() const { return pub_ingest_ ? pub_ingest_->next_endpoint() : std::string(); }
  const std::string& live_next_endpoint() const { return live_->next_endpoint(); }
  const std::string& groups_next_endpoint() const { return group_channel_->next_endpoint(); }
  // "http://host:port", or "off".
  std::string metrics_url() const;
  const Metrics& metrics() const { return metrics_; }
  Journal& journal() { return *journal_; }

 private:
  // IngestHandler: what publishers send, by kind.
  void OnProbe(std::string_view peer) override;
  void OnHello(std::string_view peer, std::string_view hello, const Peer& sender) override;
  void OnEvent(std::string_view peer, AcceptedEvent& event) override;
  void OnBatch(std::string_view peer, bool atomic, std::vector<BatchItem>& items) override;
  void OnRejected(std::string_view peer, const Rejection& rejection, std::string_view topic,
                  std::string_view event) override;
  // Applies new durability and sends the confirms owed to publishers.
  void SendConfirms();
  // Copies the coordinator's totals to the metrics the HTTP thread reads.
  void PublishGroupCounters();
  // Hands the coordinator's group list (lag, pending, ...) to the metrics, at most every
  // group_gauges_interval.
  void PublishGroupGauges(std::chrono::steady_clock::time_point now, bool force);
  void ReportSuppressed(bool force);
  // Reads the key and allow-list files and starts the ZAP handler, before any socket.
  Status StartSecurity();
  // The next key's half of a rotation, checked: every endpoint in use has a next one.
  Status StartRotation();
  // The server sockets' CURVE for one socket, with `next_endpoint` when rotating.
  std::optional<CurveSecurity> CurveFor(const std::string& next_endpoint) const;
  // Notices a ZAP handler that stopped (no new client gets in) and copies its counts.
  void CheckSecurity();

  BrokerOptions options_;
  zmq::context_t& context_;
  Metrics metrics_;
  AccessControl access_{metrics_};
  std::unique_ptr<auth::ZapHandler> zap_;  // null with CURVE off
  std::optional<CurveSecurity> curve_;     // the server sockets' CURVE, if on
  bool zap_down_reported_ = false;
  std::unique_ptr<LiveFanout> live_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<PublisherSessions> sessions_;
  std::unique_ptr<Ingest> ingest_;
  std::unique_ptr<Ingest> pub_ingest_;  // plain PUBs, fire-and-forget; null when off
  std::unique_ptr<GroupChannel> group_channel_;
  std::unique_ptr<groups::Coordinator> coordinator_;
  std::unique_ptr<MetricsServer> metrics_server_;
  RateLimiter reject_log_limiter_;
  // OnBatch's scratch, kept for their capacity.
  std::vector<PublisherSessions::Ticket> batch_tickets_;
  std::vector<eventlog::EventRef> batch_refs_;
  std::vector<AcceptedEvent*> batch_admitted_;
  std::chrono::steady_clock::time_point last_suppressed_report_;
  std::chrono::steady_clock::time_point last_maintenance_;
  std::chrono::steady_clock::time_point last_group_gauges_;
  bool started_ = false;
};

}  // namespace signalbus::broker
