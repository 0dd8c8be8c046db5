// The durable log's append path, durability wake-ups, retention, and the recovery scan.
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

Journal::Journal(JournalOptions options, Metrics& metrics) : options_(std::move(options)), metrics_(metrics) {}

Journal::~Journal() {
  Close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Journal::Open(const std::function<void(const PublisherFields&)>& recover) {
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
  if (Status s = Recover(recover); !s.ok()) return s;

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

// Hands over the identity fields of the records stored within the dedupe window, so that
// a publisher re-sending after a broker restart is recognised and confirmed. Only those
// fields are scanned, not whole events.
Status Journal::Recover(const std::function<void(const PublisherFields&)>& recover) {
  std::int64_t since = NowMillis() - options_.dedupe_window.count();
  auto from = store_->OffsetForTime(since);
  if (!from.ok()) return from.status();
  std::uint64_t offset = *from;
  std::uint64_t scanned = 0;
  while (offset < store_->next_offset()) {
    auto records = store_->Read(offset, 4096, 16 << 20);
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const auto& record : *records) {
      if (auto fields = ScanPublisherFields(record.event)) recover(*fields);
      ++scanned;
      offset = record.offset + 1;
    }
  }
  spdlog::debug("recovery: scanned the last {} records for publisher state", scanned);
  return Status::Ok();
}

Result<std::uint64_t> Journal::Append(std::string_view topic, std::string_view event) {
  return Appended(store_->Append(topic, event, NowMillis()), 1);
}

Result<std::uint64_t> Journal::AppendBatch(const std::vector<eventlog::EventRef>& events, bool atomic) {
  if (events.size() == 1 && !atomic) return Append(events[0].topic, events[0].event);
  return Appended(store_->AppendBatch(events, atomic, NowMillis()), events.size());
}

Result<std::uint64_t> Journal::Appended(Result<std::uint64_t> offset, std::size_t events) {
  if (!offset.ok()) {
    // The store is unusable now; failure() makes the broker stop. Nothing is confirmed,
    // so the publisher re-sends these events to the next broker.
    std::lock_guard lock(failure_mu_);
    if (failure_.ok()) failure_ = offset.status();
    return offset.status();
  }
  committer_->Notify();
  metrics_.CountLogged(events);
  return *offset;
}

std::optional<std::uint64_t> Journal::TakeDurable() {
  std::uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
  std::uint64_t durable = durable_.load(std::memory_order_acquire);
  if (durable <= applied_durable_) return std::nullopt;
  applied_durable_ = durable;
  metrics_.SetDurableOffset(durable);
  return durable;
}

void Journal::Maintain() {
  if (Status s = store_->ApplyRetention(NowMillis()); !s.ok()) spdlog::warn("retention: {}", s.message());
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
