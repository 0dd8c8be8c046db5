// The broker's poll loop and the wiring of its parts.
#include "signalbus/broker/broker.h"

#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/shutdown.h"

namespace signalbus::broker {
namespace {

// Messages handled per socket per wake-up: enough to amortise the poll, small enough
// that a flood on ingest still lets subscriptions (and shutdown) through.
constexpr std::size_t kIngestBudget = 4096;
constexpr std::size_t kSubscriptionBudget = 256;

}  // namespace

Broker::Broker(BrokerOptions options, zmq::context_t& context)
    : options_(std::move(options)),
      context_(context),
      reject_log_limiter_(options_.reject_log_per_second, options_.reject_log_burst),
      last_suppressed_report_(std::chrono::steady_clock::now()) {}

Broker::~Broker() { Stop(); }

Status Broker::Start() {
  live_ = std::make_unique<LiveFanout>(context_, options_.live_endpoint, metrics_);
  ingest_ = std::make_unique<Ingest>(
      context_, IngestOptions{options_.ingest_endpoint, options_.max_event_bytes}, metrics_, *live_,
      [this](const Rejection& r, std::string_view topic, std::string_view event) { OnReject(r, topic, event); });
  // Listeners first: an event accepted the moment ingest is bound has somewhere to go.
  Status status = live_->Bind();
  if (status.ok()) status = ingest_->Bind();
  if (status.ok() && options_.metrics) {
    metrics_server_ = std::make_unique<MetricsServer>(metrics_);
    status = metrics_server_->Start(*options_.metrics);
  }
  if (!status.ok()) {
    if (metrics_server_) metrics_server_->Stop();
    ingest_->Close();
    live_->Close();
    return status;
  }
  started_ = true;
  spdlog::info("ingest on {}, live on {}, metrics {} (max event {} bytes)", ingest_->endpoint(), live_->endpoint(),
               metrics_url(), options_.max_event_bytes);
  return Status::Ok();
}

Status Broker::Run() {
  while (!ShutdownRequested()) {
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
    };
    try {
      zmq::poll(items, 2, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return Status::Ok();  // a signal: the caller checks ShutdownRequested()
    }
    if (items[0].revents & ZMQ_POLLIN) ingest_->Drain(kIngestBudget);
    if (items[1].revents & ZMQ_POLLIN) live_->DrainSubscriptions(kSubscriptionBudget);
    ReportSuppressed(false);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Internal(std::string("poll loop: ") + e.what());
  }
}

void Broker::OnReject(const Rejection& rejection, std::string_view topic, std::string_view event) {
  if (!reject_log_limiter_.Allow()) return;
  spdlog::warn("rejected message ({}): {}; topic='{}' event='{}'", RejectReasonName(rejection.reason),
               rejection.detail, Printable(topic), Printable(event, 32));
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
  ingest_->Close();
  live_->Close();
  ReportSuppressed(true);
  MetricsSnapshot s = metrics_.Snapshot();
  std::string by_reason;
  for (RejectReason reason : kAllRejectReasons) {
    if (std::uint64_t n = s.rejected[RejectReasonIndex(reason)]; n > 0) {
      by_reason += (by_reason.empty() ? "" : " ") + std::string(RejectReasonName(reason)) + "=" + std::to_string(n);
    }
  }
  spdlog::info("stopped: accepted={} rejected={}{} ingest_bytes={} live_forwarded={}", s.accepted,
               s.rejected_total(), by_reason.empty() ? "" : " (" + by_reason + ")", s.ingest_bytes,
               s.live_forwarded);
}

}  // namespace signalbus::broker
