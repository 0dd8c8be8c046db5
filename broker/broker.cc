// The broker's poll loop and the wiring of its parts.
#include "signalbus/broker/broker.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "signalbus/core/shutdown.h"

namespace signalbus::broker {
namespace {

// Messages handled per socket per wake-up: enough to amortise the poll, small enough
// that a flood on ingest still lets subscriptions (and shutdown) through.
constexpr std::size_t kIngestBudget = 4096;
constexpr std::size_t kLiveRequestBudget = 256;

}  // namespace

Broker::Broker(BrokerOptions options, zmq::context_t& context)
    : options_(std::move(options)),
      context_(context),
      reject_log_limiter_(options_.reject_log_per_second, options_.reject_log_burst),
      last_suppressed_report_(std::chrono::steady_clock::now()) {}

Broker::~Broker() { Stop(); }

Status Broker::StartSecurity() {
  if (options_.curve_key_file.empty() && options_.allow_list_file.empty()) return StartRotation();
  if (options_.curve_key_file.empty() || options_.allow_list_file.empty()) {
    return InvalidArgument("CURVE needs both the broker's key file (--curve-key-file) and the allow-list of its "
                           "clients (--allow-list)");
  }
  if (!CurveAvailable()) return Unavailable("this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
  Result<CurveKeyPair> keys = ReadCurveSecretFile(options_.curve_key_file);
  if (!keys.ok()) return keys.status();
  Result<auth::AllowList> list = auth::AllowList::Load(options_.allow_list_file);
  if (!list.ok()) return list.status();
  auto shared = std::make_shared<const auth::AllowList>(std::move(list).value());
  zap_ = std::make_unique<auth::ZapHandler>(context_);
  if (Status s = zap_->Start(shared); !s.ok()) {
    zap_.reset();
    return s;
  }
  access_.Enforce(shared);
  curve_ = CurveSecurity{true, std::move(keys).value(), "", std::nullopt, ""};
  spdlog::info("CURVE on every endpoint: broker key {}..., allow-list {} ({} principals, {} keys)",
               auth::KeyFingerprint(curve_->keys.public_key), options_.allow_list_file, shared->principals(),
               shared->keys());
  return StartRotation();
}

Status Broker::StartRotation() {
  const std::pair<const std::string&, const std::string&> nexts[] = {
      {options_.ingest_endpoint, options_.ingest_next_endpoint},
      {options_.ingest_pub_endpoint, options_.ingest_pub_next_endpoint},
      {options_.live_endpoint, options_.live_next_endpoint},
      {options_.groups_endpoint, options_.groups_next_endpoint}};
  const bool any_next = std::any_of(std::begin(nexts), std::end(nexts), [](const auto& n) { return !n.second.empty(); });
  if (options_.curve_next_key_file.empty()) {
    if (!any_next) return Status::Ok();
    return InvalidArgument("an endpoint for the next broker key (--*-next) needs that key (--curve-next-key-file)");
  }
  if (!curve_) return InvalidArgument("--curve-next-key-file rotates the broker's key: it needs --curve-key-file");
  for (const auto& [endpoint, next] : nexts) {
    if (!endpoint.empty() && next.empty()) {
      return InvalidArgument("rotating the broker's key: every endpoint needs one for the next key (--ingest-next, "
                             "--live-next, --groups-next, and --ingest-pub-next with --ingest-pub); " +
                             endpoint + " has none");
    }
    if (endpoint.empty() && !next.empty()) return InvalidArgument(next + " is the next-key twin of an endpoint that is off");
  }
  Result<CurveKeyPair> next = ReadCurveSecretFile(options_.curve_next_key_file);
  if (!next.ok()) return next.status();
  if (next->public_key == curve_->keys.public_key) {
    return InvalidArgument("--curve-next-key-file holds the same key as --curve-key-file");
  }
  curve_->next_keys = std::move(next).value();
  spdlog::info("rotating the broker key: the next key {}... is served on the --*-next endpoints",
               auth::KeyFingerprint(curve_->next_keys->public_key));
  return Status::Ok();
}

std::optional<CurveSecurity> Broker::CurveFor(const std::string& next_endpoint) const {
  std::optional<CurveSecurity> curve = curve_;
  if (curve) curve->next_endpoint = next_endpoint;
  return curve;
}

Status Broker::ReloadAllowList() {
  if (!zap_) return Status::Ok();
  Result<auth::AllowList> list = auth::AllowList::Load(options_.allow_list_file);
  if (!list.ok()) {
    spdlog::error("allow-list not reloaded, the old one stays in force: {}", list.status().message());
    return list.status();
  }
  auto shared = std::make_shared<const auth::AllowList>(std::move(list).value());
  zap_->Replace(shared);
  access_.Enforce(shared);
  // What connections already hold is checked again: a key removed or a grant narrowed
  // takes effect now, not at the connection's next request.
  live_->Reauthorize();
  group_channel_->Reauthorize(std::chrono::steady_clock::now());
  sessions_->Reauthorize(*shared);
  spdlog::info("allow-list {} reloaded: {} principals, {} keys", options_.allow_list_file, shared->principals(),
               shared->keys());
  return Status::Ok();
}

void Broker::CheckSecurity() {
  if (!zap_) return;
  metrics_.SetAuthRefused(AuthOp::kConnect, zap_->refused());
  if (zap_->running() || zap_down_reported_) return;
  zap_down_reported_ = true;
  metrics_.SetAuthUp(false);
  spdlog::error("the ZAP handler is not running: no new client can connect (connections already authenticated "
                "go on); restart the broker");
}

Status Broker::Start() {
  if (Status s = StartSecurity(); !s.ok()) return s;
  LiveOptions live_options = options_.live;
  live_options.curve = CurveFor(options_.live_next_endpoint);
  live_options.max_listeners_per_principal = curve_ ? options_.max_live_listeners_per_principal : 0;
  live_options.window_bytes_per_principal = curve_ ? options_.live_window_bytes_per_principal : 0;
  live_ = std::make_unique<LiveFanout>(context_, options_.live_endpoint, live_options, metrics_.live(), access_);
  PublisherSessionsOptions session_options;
  session_options.max_publishers = options_.max_publishers;
  // Without CURVE every peer is one principal: the share would be the whole table.
  session_options.max_publishers_per_principal = curve_ ? options_.max_publishers_per_principal : 0;
  session_options.verify_window = options_.publisher_verify_window;
  session_options.forget_after = options_.journal.dedupe_window;
  session_options.max_batch_events = options_.max_batch_events;
  session_options.max_batch_bytes = options_.max_batch_bytes;
  sessions_ = std::make_unique<PublisherSessions>(
      session_options, metrics_,
      [this](std::string_view peer, std::string_view kind, const std::string& bytes) {
        ingest_->Send(peer, kind, bytes);
      });
  // Recovery first: nothing is accepted before the log is known to be sound.
  journal_ = std::make_unique<Journal>(options_.journal, metrics_);
  const auto recovered_at = std::chrono::steady_clock::now();
  if (Status s = journal_->Open([&](const PublisherFields& fields) { sessions_->Recover(fields, recovered_at); });
      !s.ok()) {
    journal_.reset();
    if (zap_) zap_->Stop();
    return s;
  }
  metrics_.SetDurableOffset(journal_->durable_offset());
  IngestOptions ingest_options;
  ingest_options.endpoint = options_.ingest_endpoint;
  ingest_options.max_event_bytes = options_.max_event_bytes;
  ingest_options.recv_hwm = options_.ingest_queue_messages;
  ingest_options.max_batch_events = options_.max_batch_events;
  ingest_options.max_batch_bytes = options_.max_batch_bytes;
  ingest_options.curve = CurveFor(options_.ingest_next_endpoint);
  ingest_ = std::make_unique<Ingest>(context_, ingest_options, metrics_, access_, static_cast<IngestHandler&>(*this));
  if (!options_.ingest_pub_endpoint.empty()) {
    IngestOptions pub_options = ingest_options;
    pub_options.endpoint = options_.ingest_pub_endpoint;
    pub_options.routed = false;
    pub_options.curve = CurveFor(options_.ingest_pub_next_endpoint);
    pub_ingest_ =
        std::make_unique<Ingest>(context_, pub_options, metrics_, access_, static_cast<IngestHandler&>(*this));
  }
  group_channel_ =
      std::make_unique<GroupChannel>(context_, options_.groups_endpoint, access_,
                                     CurveFor(options_.groups_next_endpoint), options_.groups_peer_queue);
  groups::CoordinatorOptions group_options = options_.groups;
  group_options.state_dir = options_.journal.data_dir + "/groups";
  group_options.max_members_per_principal = curve_ ? options_.max_group_members_per_principal : 0;
  coordinator_ = std::make_unique<groups::Coordinator>(
      &journal_->store(), group_options,
      [this](std::string_view peer, const v1::GroupReply& reply) { group_channel_->Send(peer, reply); });
  group_channel_->set_coordinator(coordinator_.get());
  if (Status s = coordinator_->Open(); !s.ok()) {
    journal_->Close();
    if (zap_) zap_->Stop();
    return Status(s.code(), "consumer groups in " + group_options.state_dir + ": " + s.message());
  }
  coordinator_->OnDurable(journal_->durable_offset(), std::chrono::steady_clock::now());
  // Listeners first: an event accepted the moment ingest is bound has somewhere to go.
  Status status = live_->Bind();
  if (status.ok()) status = group_channel_->Bind();
  if (status.ok()) status = ingest_->Bind();
  if (status.ok() && pub_ingest_) status = pub_ingest_->Bind();
  if (status.ok() && options_.metrics) {
    metrics_server_ = std::make_unique<MetricsServer>(metrics_);
    status = metrics_server_->Start(*options_.metrics);
  }
  if (!status.ok()) {
    if (metrics_server_) metrics_server_->Stop();
    ingest_->Close();
    if (pub_ingest_) pub_ingest_->Close();
    live_->Close();
    group_channel_->Close();
    journal_->Close();
    if (zap_) zap_->Stop();
    return status;
  }
  started_ = true;
  last_maintenance_ = std::chrono::steady_clock::now();
  PublishGroupGauges(last_maintenance_, /*force=*/true);
  spdlog::info("ingest on {}, live on {}, groups on {}, metrics {} (max event {} bytes)", ingest_->endpoint(),
               live_->endpoint(), group_channel_->endpoint(), metrics_url(), options_.max_event_bytes);
  const auto& recovery = journal_->recovery();
  spdlog::info("log {}: offsets {}..{}, {} records verified in {} ms, fsync {}{}", options_.journal.data_dir,
               journal_->store().first_offset(), journal_->store().next_offset() - 1, recovery.records_verified,
               recovery.open_time.count() / 1000, eventlog::FormatSyncPolicy(options_.journal.sync),
               options_.journal.sync.kind == eventlog::SyncPolicy::Kind::kAlways
                   ? fmt::format(" (at least {} us apart)", options_.journal.sync.min_gap.count())
                   : std::string());
  return Status::Ok();
}

Status Broker::Run() {
  while (!ShutdownRequested()) {
    if (TakeReloadRequest()) (void)ReloadAllowList();  // a bad file is logged and changes nothing
    if (Status s = PollOnce(options_.poll_timeout); !s.ok()) return s;
  }
  spdlog::info("shutdown requested (signal {})", ShutdownSignal());
  return Status::Ok();
}

Status Broker::PollOnce(std::chrono::milliseconds timeout) {
  // The edge of the loop: socket failures arrive as zmq::error_t and leave as a Status.
  try {
    zmq::pollitem_t items[] = {
        {ingest_->socket().handle(), 0, ZMQ_POLLIN, 0},
        {live_->socket().handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, journal_->wake_fd(), ZMQ_POLLIN, 0},
        {group_channel_->socket().handle(), 0, ZMQ_POLLIN, 0},
        // The groups' state-file writer: a new group's file on disk lets it deliver.
        {nullptr, coordinator_->wake_fd(), ZMQ_POLLIN, 0},
        // Plain PUBs (--ingest-pub); polls nothing when off.
        {pub_ingest_ ? pub_ingest_->socket().handle() : nullptr, -1, static_cast<short>(pub_ingest_ ? ZMQ_POLLIN : 0), 0},
    };
    // Wake for the coordinator's next timer (ack timeout, retry, heartbeat expiry).
    auto before = std::chrono::steady_clock::now();
    auto next = coordinator_->NextDeadline();
    if (next < before + timeout) {
      timeout = std::max(std::chrono::milliseconds(0),
                         std::chrono::ceil<std::chrono::milliseconds>(next - before));
    }
    try {
      zmq::poll(items, pub_ingest_ ? 6 : 5, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return Status::Ok();  // a signal: the caller checks ShutdownRequested()
    }
    // Listeners' requests first: a subscription read now gets the events read next.
    if (items[1].revents & ZMQ_POLLIN) live_->Drain(kLiveRequestBudget, std::chrono::steady_clock::now());
    if (items[0].revents & ZMQ_POLLIN) ingest_->Drain(kIngestBudget);
    if (items[5].revents & ZMQ_POLLIN) pub_ingest_->Drain(kIngestBudget);
    SendConfirms();
    auto now = std::chrono::steady_clock::now();
    if (items[3].revents & ZMQ_POLLIN) group_channel_->Drain(kIngestBudget, now);
    coordinator_->OnDurable(journal_->durable_offset(), now);
    coordinator_->Tick(now);
    live_->Tick(now);
    PublishGroupCounters();
    PublishGroupGauges(now, /*force=*/false);
    CheckSecurity();
    if (Status failure = journal_->failure(); !failure.ok()) {
      return Status(failure.code(), "durable log failed, stopping so that publishers re-send to a healthy broker: " +
                                        failure.message());
    }
    if (now - last_maintenance_ >= options_.maintenance_interval) {
      last_maintenance_ = now;
      journal_->Maintain();
      sessions_->Maintain(now);
    }
    ReportSuppressed(false);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Internal(std::string("poll loop: ") + e.what());
  }
}

void Broker::SendConfirms() {
  if (std::optional<std::uint64_t> durable = journal_->TakeDurable()) sessions_->OnDurable(*durable);
  sessions_->SendConfirms();
}

// ---- What publishers send ------------------------------------------------------------------

void Broker::OnProbe(std::string_view peer) { sessions_->OnProbe(peer); }

void Broker::OnHello(std::string_view peer, std::string_view hello, const Peer& sender) {
  const bool may_publish = sender && (sender.principal->everything || !sender.principal->publish.empty());
  if (sender && !may_publish) access_.Refused(AuthOp::kPublish, sender, "a publisher hello (it may publish nothing)");
  sessions_->OnHello(peer, hello, std::chrono::steady_clock::now(),
                     sender ? std::string_view(sender.principal->name) : std::string_view(), may_publish,
                     access_.list());
}

// An accepted event's whole way through the broker.
void Broker::OnEvent(std::string_view peer, AcceptedEvent& event) {
  std::optional<PublisherSessions::Ticket> ticket =
      sessions_->Admit(peer, event.fields, std::chrono::steady_clock::now());
  if (!ticket) return;  // a duplicate, refused, or out of order: the publisher is told
  Result<std::uint64_t> offset = journal_->Append(event.topic_view(), event.event_view());
  if (!offset.ok()) return;  // journal_->failure() stops the broker; nothing is confirmed
  sessions_->Logged(*ticket, *offset);
  coordinator_->NoteKey(*offset, event.fields.ordering_key);
  live_->Accept(event);
}

// A batch's way: the same as OnEvent's for each event, with one append for all that
// the sessions let through (one record: one write, durable or lost together).
void Broker::OnBatch(std::string_view peer, bool atomic, std::vector<BatchItem>& items) {
  const auto now = std::chrono::steady_clock::now();
  batch_tickets_.clear();
  batch_refs_.clear();
  batch_admitted_.clear();
  for (BatchItem& item : items) {
    if (item.rejection) {
      OnRejected(peer, *item.rejection, item.event.topic_view(), item.event.event_view());
      continue;
    }
    std::optional<PublisherSessions::Ticket> ticket = sessions_->Admit(peer, item.event.fields, now);
    if (!ticket) continue;  // a duplicate, refused, or out of order: the publisher is told
    batch_tickets_.push_back(*ticket);
    batch_refs_.push_back({item.event.topic_view(), item.event.event_view()});
    batch_admitted_.push_back(&item.event);
  }
  if (batch_refs_.empty()) return;
  Result<std::uint64_t> first = journal_->AppendBatch(batch_refs_, atomic && batch_refs_.size() > 1);
  if (!first.ok()) return;  // journal_->failure() stops the broker; nothing is confirmed
  for (std::size_t i = 0; i < batch_admitted_.size(); ++i) {
    sessions_->Logged(batch_tickets_[i], *first + i);
    coordinator_->NoteKey(*first + i, batch_admitted_[i]->fields.ordering_key);
    live_->Accept(*batch_admitted_[i]);
  }
}

void Broker::OnRejected(std::string_view peer, const Rejection& rejection, std::string_view topic,
                        std::string_view event) {
  sessions_->OnRejected(peer, event, RejectReasonName(rejection.reason), rejection.detail);
  if (!reject_log_limiter_.Allow()) return;
  spdlog::warn("rejected message ({}): {}; topic='{}' event='{}'", RejectReasonName(rejection.reason),
               rejection.detail, Printable(topic), Printable(event, 32));
}

void Broker::PublishGroupCounters() {
  groups::CoordinatorCounters c = coordinator_->counters();
  metrics_.SetGroupCounter(GroupCounter::kDelivered, c.delivered);
  metrics_.SetGroupCounter(GroupCounter::kRedelivered, c.redelivered);
  metrics_.SetGroupCounter(GroupCounter::kAcked, c.acked);
  metrics_.SetGroupCounter(GroupCounter::kNacked, c.nacked);
  metrics_.SetGroupCounter(GroupCounter::kStaleAcks, c.stale_acks);
  metrics_.SetGroupCounter(GroupCounter::kDeadLettered, c.dead_lettered);
  metrics_.SetGroupCounter(GroupCounter::kMembersExpired, c.members_expired);
  metrics_.SetGroupCounter(GroupCounter::kBadRequests, c.bad_requests + group_channel_->malformed());
  metrics_.SetGroupCounter(GroupCounter::kRepliesDropped, group_channel_->replies_dropped());
  c.refused[static_cast<std::size_t>(groups::Refusal::kMalformed)] += group_channel_->malformed();
  for (std::size_t i = 0; i < groups::kRefusalCount; ++i) {
    metrics_.SetGroupRefused(static_cast<groups::Refusal>(i), c.refused[i]);
  }
}

void Broker::PublishGroupGauges(std::chrono::steady_clock::time_point now, bool force) {
  if (!force && now - last_group_gauges_ < options_.group_gauges_interval) return;
  last_group_gauges_ = now;
  metrics_.SetGroups(coordinator_->ListGroups());
}

void Broker::ReportSuppressed(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_suppressed_report_ < options_.suppressed_report_interval) return;
  last_suppressed_report_ = now;
  if (std::uint64_t n = reject_log_limiter_.TakeSuppressed(); n > 0) {
    spdlog::warn("{} more rejected messages suppressed (see {})", n, kRejectedMetric);
  }
}

std::string Broker::metrics_url() const {
  return metrics_server_ ? metrics_server_->url() : std::string(kMetricsOff);
}

void Broker::Stop() {
  if (!started_) return;
  started_ = false;
  if (metrics_server_) metrics_server_->Stop();
  // Last confirms for what the final sync makes durable; group positions saved.
  journal_->Close();
  SendConfirms();
  if (Status s = coordinator_->Persist(); !s.ok()) spdlog::error("saving consumer-group state: {}", s.message());
  group_channel_->Close();
  ingest_->Close();
  if (pub_ingest_) pub_ingest_->Close();
  live_->Close();
  if (zap_) zap_->Stop();
  ReportSuppressed(true);
  MetricsSnapshot s = metrics_.Snapshot();
  std::string by_reason;
  for (RejectReason reason : kAllRejectReasons) {
    if (std::uint64_t n = s.rejected[RejectReasonIndex(reason)]; n > 0) {
      by_reason += (by_reason.empty() ? "" : " ") + std::string(RejectReasonName(reason)) + "=" + std::to_string(n);
    }
  }
  spdlog::info("stopped: accepted={} logged={} duplicates={} durable_offset={} rejected={}{} ingest_bytes={} "
               "live_forwarded={}",
               s.accepted, s.logged, s.duplicates, journal_->durable_offset(), s.rejected_total(),
               by_reason.empty() ? "" : " (" + by_reason + ")", s.ingest_bytes, s.live.forwarded);
}

}  // namespace signalbus::broker
