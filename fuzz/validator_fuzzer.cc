// Fuzzes the ingest admission check: ValidateMessage (broker/validator.cc) on one
// [topic, event] pair, and the canonical fast path (CheckCanonicalEvent) beside it.
// Input: a frame count byte, the topic frame, then the event bytes (fuzz_support.h).
// Asserts, beyond not crashing:
//   - an accepted event is one the full path accepts too: it parses, ValidateEvent()
//     passes, its topic is the topic frame, and the fields handed on are its own;
//   - the fast path never says "valid" for bytes the full parse refuses, and its fields
//     are the parsed ones (it may only be sooner, never different);
//   - a rejection's detail, which is logged, is short printable ASCII: peer bytes in it
//     went through Printable().
#include <cstddef>
#include <cstdint>

#include "canonical_event.h"
#include "fuzz_support.h"
#include "signalbus/broker/validator.h"
#include "signalbus/core/codec.h"
#include "signalbus/v1/event.pb.h"

using signalbus::fuzz::FuzzInput;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace broker = signalbus::broker;
  FuzzInput in(data, size);
  // Mostly the two frames ingest hands over; sometimes another count.
  const std::uint8_t count_byte = in.Byte();
  const std::size_t frames = count_byte < 0xf0 ? 2 : count_byte & 0x0f;
  const std::string_view topic = in.Frame();
  const std::string_view event = in.Rest();

  broker::ValidatorOptions options;
  const broker::Verdict verdict = broker::ValidateMessage(frames, topic, event, options);

  // Whatever the verdict, the full parse is the reference.
  signalbus::v1::Event parsed;
  const bool parses = !event.empty() && signalbus::ParseEvent(event, parsed).ok();
  const bool valid = parses && signalbus::ValidateEvent(parsed).ok();

  if (std::optional<broker::CanonicalFields> fast = broker::CheckCanonicalEvent(event)) {
    SIGNALBUS_FUZZ_CHECK(valid);
    SIGNALBUS_FUZZ_CHECK(fast->event_id == parsed.event_id());
    SIGNALBUS_FUZZ_CHECK(fast->sender == parsed.sender());
    SIGNALBUS_FUZZ_CHECK(fast->signal == parsed.signal());
    SIGNALBUS_FUZZ_CHECK(fast->publisher_id == parsed.publisher_id());
    SIGNALBUS_FUZZ_CHECK(fast->ordering_key == parsed.ordering_key());
    SIGNALBUS_FUZZ_CHECK(fast->sequence == parsed.sequence());
    SIGNALBUS_FUZZ_CHECK(fast->unconfirmed_from == parsed.unconfirmed_from());
  }
  (void)broker::ExceedsValueNesting(event);

  if (verdict.accepted()) {
    SIGNALBUS_FUZZ_CHECK(frames == 2);
    SIGNALBUS_FUZZ_CHECK(event.size() <= options.max_event_bytes);
    SIGNALBUS_FUZZ_CHECK(valid);
    SIGNALBUS_FUZZ_CHECK(signalbus::TopicOf(parsed) == topic);
    const broker::EventFields& f = verdict.fields();
    SIGNALBUS_FUZZ_CHECK(f.event_id == parsed.event_id());
    SIGNALBUS_FUZZ_CHECK(f.publisher_id == parsed.publisher_id());
    SIGNALBUS_FUZZ_CHECK(f.sequence == parsed.sequence());
    SIGNALBUS_FUZZ_CHECK(f.unconfirmed_from == parsed.unconfirmed_from());
    SIGNALBUS_FUZZ_CHECK(f.ordering_key == parsed.ordering_key());
  } else {
    const broker::Rejection& r = verdict.rejection();
    SIGNALBUS_FUZZ_CHECK(r.detail.size() <= 4096);
    for (char c : r.detail) SIGNALBUS_FUZZ_CHECK(c >= 0x20 && c < 0x7f);
    // A valid event with its own topic is only ever refused for its size or frame count.
    if (frames == 2 && event.size() <= options.max_event_bytes && valid &&
        signalbus::TopicOf(parsed) == topic) {
      SIGNALBUS_FUZZ_CHECK(false && "a valid event with a matching topic was rejected");
    }
  }
  return 0;
}
