// Dedupe, durable append, and publish confirms.
#include "signalbus/broker/journal.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "signalbus/core/event_scan.h"

namespace signalbus::broker {
namespace {

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Journal::Journal(JournalOptions options, Metrics& metrics, EventSink& downstream)
    : options_(std::move(options)), metrics_(metrics), downstream_(downstream) {}

Journal::~Journal() {
  Close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Journal::Open() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Internal(std::string("eventfd: ") + std::strerror(errno));
  eventlog::FileStore::Options store_options;
  store_options.segment_bytes = options_.segment_bytes;
  store_options.retention = options_.retention;
  store_options.skip_corrupt = options_.skip_corrupt;
  auto store = eventlog::FileStore::Open(options_.data_dir, store_options);
  if (!store.ok()) {
    std::string hint = store.status().code() == StatusCode::kDataLoss
                           ? ". The log is left as it is; start the broker with --skip-corrupt to skip what is "
                             "damaged (its records are never delivered), or restore the segment from a copy"
                           : "";
    return Status(store.status().code(), "log in " + options_.data_dir + ": " + store.status().message() + hint);
  }
  store_ = std::move(*store);
  const auto& report = store_->recovery();
  if (!report.torn_segment.empty()) {
    spdlog::warn("log recovery: cut a torn tail of {} bytes from {} (a write interrupted by a crash)",
                 report.torn_bytes, report.torn_segment);
  }
  for (const auto& skipped : report.skipped) {
    spdlog::error("log recovery: skipped damaged bytes {}..{} of {} (offsets {}..{}): {}", skipped.begin_byte,
                  skipped.end_byte, skipped.segment, skipped.first_offset, skipped.last_offset,
                  skipped.description);
  }
  // Everything recovered is on disk.
  durable_.store(store_->next_offset() - 1, std::memory_order_release);
  applied_durable_ = durable_.load();
  if (Status s = RebuildDedupe(); !s.ok()) return s;

  committer_ = std::make_unique<eventlog::GroupCommitter>(
      store_.get(), options_.sync,
      [this](std::uint64_t durable) {
        durable_.store(durable, std::memory_order_release);
        std::uint64_t one = 1;
        // A full counter (never here: it is read on every wake) would only coalesce.
        (void)!::write(wake_fd_, &one, sizeof one);
      },
      [this](const Status& error) {
        {
          std::lock_guard lock(failure_mu_);
          failure_ = error;
        }
        std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
      });
  committer_->Start();
  return Status::Ok();
}

// Rebuilds "highest sequence per publisher" from the records stored within the dedupe
// window, so that a publisher re-sending after a broker restart is deduplicated and
// confirmed. Only the identity fields are scanned, not whole events.
Status Journal::RebuildDedupe() {
  std::int64_t since = NowMillis() - options_.dedupe_window.count();
  auto from = store_->OffsetForTime(since);
  if (!from.ok()) return from.status();
  std::uint64_t offset = *from;
  std::uint64_t scanned = 0;
  auto now = std::chrono::steady_clock::now();
  while (offset < store_->next_offset()) {
    auto records = store_->Read(offset, 4096, 16 << 20);
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const auto& record : *records) {
      if (auto fields = ScanPublisherFields(record.event)) {
        PublisherState& p = Publisher(fields->publisher_id);
        p.logged = std::max(p.logged, fields->sequence);
        p.synced = true;
        p.confirmed = std::max(p.confirmed, fields->sequence);
        p.last_seen = now;
      }
      ++scanned;
      offset = record.offset + 1;
    }
  }
  spdlog::debug("dedupe: {} publishers from the last {} records", publishers_.size(), scanned);
  return Status::Ok();
}

Journal::PublisherState& Journal::Publisher(std::string_view id) {
  // Events come in runs from one publisher: the last one found is compared first, which
  // spares building a key string and hashing it for each event.
  if (last_publisher_ != nullptr && last_publisher_->id == id) return *last_publisher_;
  auto it = publishers_.find(std::string(id));
  if (it == publishers_.end()) {
    it = publishers_.emplace(std::string(id), PublisherState{}).first;
    it->second.id = it->first;
  }
  last_publisher_ = &it->second;
  return it->second;
}

void Journal::Owe(PublisherState& publisher) {
  if (publisher.owed) return;
  publisher.owed = true;
  owed_.push_back(&publisher);
}

void Journal::Accept(const AcceptedEvent& event) {
  PublisherState* publisher = nullptr;
  if (!event.fields.publisher_id.empty() && event.fields.sequence > 0) {
    publisher = &Publisher(event.fields.publisher_id);
    publisher->last_seen = std::chrono::steady_clock::now();
    const std::uint64_t sequence = event.fields.sequence;
    // What the publisher says was confirmed before this event is settled, whoever
    // confirmed it. A publisher that says nothing is taken to start here.
    const std::uint64_t from = event.fields.unconfirmed_from;
    if (from != 0 && from <= sequence && from > publisher->logged + 1) publisher->logged = from - 1;
    if (!publisher->synced && from == 0) publisher->logged = std::max(publisher->logged, sequence - 1);
    publisher->synced = true;
    if (sequence <= publisher->logged) {
      // A re-send of something already logged: the publisher missed its confirm.
      metrics_.CountDuplicate();
      Owe(*publisher);
      return;
    }
    if (sequence > publisher->logged + 1) {
      // Something before it never arrived (sent while this broker was starting, say).
      // Logging this one would let a cumulative confirm cover the missing ones, and
      // their late re-send would be taken for a duplicate: drop it and ask for a re-send
      // from the gap, in order.
      metrics_.CountOutOfOrder();
      publisher->resend_from = publisher->logged + 1;
      Owe(*publisher);
      return;
    }
  }
  auto offset = store_->Append(event.topic_view(), event.event_view(), NowMillis());
  if (!offset.ok()) {
    // The store is unusable now; failure() makes the broker stop. Nothing is confirmed,
    // so the publisher re-sends this event to the next broker.
    std::lock_guard lock(failure_mu_);
    if (failure_.ok()) failure_ = offset.status();
    return;
  }
  committer_->Notify();
  metrics_.CountLogged();
  if (on_logged_) on_logged_(*offset, event.fields.ordering_key);
  if (publisher != nullptr) {
    publisher->logged = event.fields.sequence;
    awaiting_.push_back({*offset, publisher, event.fields.sequence});
  }
  downstream_.Accept(event);
}

void Journal::OnRejected(std::string_view event_bytes, std::string_view reason) {
  auto fields = ScanPublisherFields(event_bytes);
  if (!fields) return;
  PublisherState& publisher = Publisher(fields->publisher_id);
  // A rejected event is settled, like a logged one: the sequence after it is next.
  if (!publisher.synced || fields->sequence == publisher.logged + 1) {
    publisher.logged = std::max(publisher.logged, fields->sequence);
    publisher.synced = true;
  }
  publisher.rejections.emplace_back(fields->sequence, std::string(reason));
  Owe(publisher);
}

std::optional<std::uint64_t> Journal::TakeDurable() {
  std::uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
  std::uint64_t durable = durable_.load(std::memory_order_acquire);
  if (durable <= applied_durable_) return std::nullopt;
  applied_durable_ = durable;
  metrics_.SetDurableOffset(durable);
  while (!awaiting_.empty() && awaiting_.front().offset <= durable) {
    AwaitingDurable& a = awaiting_.front();
    PublisherState* p = a.publisher;
    p->confirmed = std::max(p->confirmed, a.sequence);
    Owe(*p);
    awaiting_.pop_front();
  }
  return durable;
}

std::optional<v1::ConfirmBatch> Journal::TakeConfirms() {
  if (owed_.empty()) return std::nullopt;
  v1::ConfirmBatch batch;
  for (PublisherState* p : owed_) {
    v1::PublishConfirm* confirm = batch.add_confirms();
    confirm->set_publisher_id(p->id);
    confirm->set_durable_through(p->confirmed);
    for (auto& [sequence, reason] : p->rejections) {
      v1::PublishRejection* r = confirm->add_rejections();
      r->set_sequence(sequence);
      r->set_reason(reason);
    }
    p->rejections.clear();
    if (p->resend_from != 0) confirm->set_resend_from(p->resend_from);
    p->resend_from = 0;
    p->owed = false;
  }
  owed_.clear();
  metrics_.CountConfirmBatch();
  return batch;
}

void Journal::Maintain() {
  if (Status s = store_->ApplyRetention(NowMillis()); !s.ok()) spdlog::warn("retention: {}", s.message());
  // Forget publishers idle for longer than the dedupe window with nothing in flight.
  if (!owed_.empty() || !awaiting_.empty()) return;
  auto cutoff = std::chrono::steady_clock::now() - options_.dedupe_window;
  last_publisher_ = nullptr;
  for (auto it = publishers_.begin(); it != publishers_.end();) {
    it = it->second.last_seen < cutoff ? publishers_.erase(it) : std::next(it);
  }
}

Status Journal::failure() const {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void Journal::Close() {
  if (committer_) {
    committer_->Stop();
    committer_.reset();
  }
}

}  // namespace signalbus::broker
