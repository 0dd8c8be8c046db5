// The fast path of the broker's admission check: a walk over the bytes of an event that
// protobuf wrote the usual way — known fields only, each singular field at most once,
// in field-number order, minimal tags — checking everything a full parse checks (wire
// types, lengths, valid UTF-8 in every string, nesting) plus ValidateEvent()'s rules,
// without building the message. A full parse of a user's post_save costs ~1.3 µs, mostly
// its Struct of fields; this walk a small fraction of that.
//
// It only ever says "valid, with these fields" or "not sure": anything unusual (an
// unknown field, a repeated singular field, a long varint, damage of any kind) is left
// to the full parse, which also names the reason for a rejection. So it accepts exactly
// what the full path accepts, only sooner; validator_fast_path_test.cc checks that
// against the full path on valid, mutated and random events.
//
// Beside it, for events the full parse cannot read: whether they nest JSON values deeper
// than kMaxValueNesting, so that such an event is refused for that, whatever protobuf's
// own (deeper) recursion limit made of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace signalbus::broker {

// Fields of an accepted event, pointing into the checked bytes.
struct CanonicalFields {
  std::string_view event_id;
  std::string_view sender;
  std::string_view signal;
  std::string_view publisher_id;
  std::string_view ordering_key;
  std::uint64_t sequence = 0;
  std::uint64_t unconfirmed_from = 0;
};

// The fields of `event` if it is canonical and signalbus::ValidateEvent() would accept
// it; nullopt when it is not canonical or not valid (the caller parses it in full).
// The topic frame is not looked at here. Never reads outside `event`.
std::optional<CanonicalFields> CheckCanonicalEvent(std::string_view event);

// True if `event`, read as a parser reads it (any field order, unknown fields skipped),
// nests the values of a Struct (instance fields, custom kwargs) deeper than
// signalbus::kMaxValueNesting before it ends or stops making sense. Never reads outside
// `event`; its recursion stops at that limit.
bool ExceedsValueNesting(std::string_view event);

}  // namespace signalbus::broker
