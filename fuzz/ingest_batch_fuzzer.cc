// Fuzzes how ingest reads one multipart message off its ROUTER socket (broker/ingest.cc):
// probes, hellos, single events and above all the ["$batch", header, topic, event, ...]
// decoder, with its limits on events and bytes. The input's frames are sent as one
// message from a DEALER over inproc://, as a publisher would, and Ingest::Drain reads it.
// Input: a mode byte (bit 0: put a "$batch" frame first), then frames (fuzz_support.h).
// Asserts, beyond not crashing:
//   - every message yields exactly one verdict: a probe, a hello, an event, a batch, or
//     rejections;
//   - a batch handed on holds at most the configured events and bytes, and is not empty;
//   - each accepted item is one ValidateMessage accepts alone, with the same fields;
//   - an atomic batch comes all accepted or all rejected;
//   - the accepted/rejected counters grow by exactly the verdicts given.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "signalbus/broker/access_control.h"
#include "signalbus/broker/ingest.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/sockets.h"

namespace broker = signalbus::broker;
using signalbus::fuzz::FuzzInput;

namespace {

constexpr std::size_t kMaxBatchEvents = 8;
constexpr std::size_t kMaxBatchBytes = 4096;

struct Recorder : broker::IngestHandler {
  std::size_t verdicts = 0;  // calls
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;

  void OnProbe(std::string_view) override { ++verdicts; }
  void OnHello(std::string_view, std::string_view, const broker::Peer&) override { ++verdicts; }
  void OnEvent(std::string_view, broker::AcceptedEvent& event) override {
    ++verdicts;
    ++accepted;
    CheckAccepted(event);
  }
  void OnRejected(std::string_view, const broker::Rejection& r, std::string_view, std::string_view) override {
    ++verdicts;
    ++rejected;
    SIGNALBUS_FUZZ_CHECK(broker::RejectReasonIndex(r.reason) < broker::kRejectReasonCount);
  }
  void OnBatch(std::string_view, bool atomic, std::vector<broker::BatchItem>& items) override {
    ++verdicts;
    SIGNALBUS_FUZZ_CHECK(!items.empty());
    SIGNALBUS_FUZZ_CHECK(items.size() <= kMaxBatchEvents);
    std::size_t bytes = 0;
    std::size_t ok = 0;
    for (broker::BatchItem& item : items) {
      bytes += item.event.topic.size() + item.event.event.size();
      if (item.rejection) {
        ++rejected;
        continue;
      }
      ++ok;
      ++accepted;
      CheckAccepted(item.event);
    }
    SIGNALBUS_FUZZ_CHECK(bytes <= kMaxBatchBytes);
    if (atomic) SIGNALBUS_FUZZ_CHECK(ok == 0 || ok == items.size());
  }

  static void CheckAccepted(const broker::AcceptedEvent& event) {
    broker::Verdict alone = broker::ValidateMessage(2, event.topic_view(), event.event_view());
    SIGNALBUS_FUZZ_CHECK(alone.accepted());
    SIGNALBUS_FUZZ_CHECK(alone.fields().event_id == event.fields.event_id);
    SIGNALBUS_FUZZ_CHECK(alone.fields().publisher_id == event.fields.publisher_id);
    SIGNALBUS_FUZZ_CHECK(alone.fields().sequence == event.fields.sequence);
    SIGNALBUS_FUZZ_CHECK(alone.fields().ordering_key == event.fields.ordering_key);
  }
};

// One broker-side Ingest and one publisher-side DEALER for the whole run.
struct Rig {
  zmq::context_t context;
  broker::Metrics metrics;
  broker::AccessControl access{metrics};
  Recorder recorder;
  broker::Ingest ingest;
  zmq::socket_t dealer;

  Rig() : ingest(context, Options(), metrics, access, recorder) {
    signalbus::Status s = ingest.Bind();
    if (!s.ok()) signalbus::fuzz::Fail(s.message().c_str(), __FILE__, __LINE__);
    dealer = signalbus::MakeSocket(context, zmq::socket_type::dealer);
    dealer.connect(ingest.endpoint());
  }
  static broker::IngestOptions Options() {
    broker::IngestOptions o;
    o.endpoint = "inproc://ingest-fuzz";
    o.max_batch_events = kMaxBatchEvents;
    o.max_batch_bytes = kMaxBatchBytes;
    return o;
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Rig* rig = new Rig();  // never destroyed: libFuzzer exits without unwinding
  FuzzInput in(data, size);
  std::vector<std::string_view> frames;
  if ((in.Byte() & 1) != 0) frames.push_back(signalbus::kBatchKind);
  while (!in.empty() && frames.size() < 256) frames.push_back(in.Frame());
  if (frames.empty()) frames.push_back({});

  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    SIGNALBUS_FUZZ_CHECK(rig->dealer.send(zmq::buffer(frames[i]), flags).has_value());
  }
  const broker::MetricsSnapshot before = rig->metrics.Snapshot();
  rig->recorder = Recorder{};
  // inproc delivers at once, but the ROUTER learns of the new pipe on its next call.
  std::size_t read = 0;
  for (int tries = 0; read == 0 && tries < 100000; ++tries) read = rig->ingest.Drain(1);
  SIGNALBUS_FUZZ_CHECK(read == 1);
  SIGNALBUS_FUZZ_CHECK(rig->ingest.Drain(16) == 0);
  const broker::MetricsSnapshot after = rig->metrics.Snapshot();

  const Recorder& r = rig->recorder;
  SIGNALBUS_FUZZ_CHECK(r.verdicts >= 1);
  // Only a refused batch gives more than one call (one rejection per item held).
  if (r.verdicts > 1) SIGNALBUS_FUZZ_CHECK(r.accepted == 0 && r.rejected == r.verdicts);
  std::uint64_t rejected_delta = 0;
  for (std::size_t i = 0; i < broker::kRejectReasonCount; ++i) rejected_delta += after.rejected[i] - before.rejected[i];
  SIGNALBUS_FUZZ_CHECK(after.accepted - before.accepted == r.accepted);
  SIGNALBUS_FUZZ_CHECK(rejected_delta == r.rejected);
  return 0;
}
