// The Event envelope: what each signal must carry, its limits, encoding, and decoding
// of untrusted bytes. Decoding never crashes: truncated, oversized or random input is a
// Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

inline constexpr std::uint32_t kSchemaVersion = 1;
inline constexpr std::size_t kDefaultMaxEventBytes = 1 << 20;  // 1 MiB

// ---- The envelope's limits. ValidateEvent() checks each (so DecodeEvent(), both
// publishers and the broker's full parse do), the broker's canonical walk
// (broker/canonical_event.cc) checks the same, and clients/python/signalbus/envelope.py
// mirrors them; core/testdata/envelope_cases.tsv holds the cases both languages test.

// How deeply the JSON values of an event (an instance's fields, a custom signal's
// kwargs: google.protobuf.Struct) may nest objects and arrays: {} is 1 deep, {"a": [1]}
// is 2. Below each of protobuf's own limits, so that every path refuses a deeper event
// with this reason and the JSON printer prints every event allowed: protobuf 3.21's JSON
// printer stops at 31 (ProtoStreamObjectSource's 64 levels, two per JSON level), the
// binary parser at 32 in an instance's fields (100 levels, three per object: Struct,
// map entry, Value), and the JSON parser where the binary parser does.
inline constexpr int kMaxValueNesting = 24;

// publisher_id: at most 128 bytes of ASCII letters, digits and . _ : - (a ULID, a name
// like "billing-relay:1"); empty for a fire-and-forget publisher. The broker keeps one
// per publisher in its dedupe table.
inline constexpr std::size_t kMaxPublisherIdBytes = 128;
// source: the publishing service's name ("accounts"), any text up to this.
inline constexpr std::size_t kMaxSourceBytes = 128;
// ordering_key: "sender:pk" (a sender is at most 253 bytes); any text up to this.
inline constexpr std::size_t kMaxOrderingKeyBytes = 1024;
// occurred_at: the range of google.protobuf.Timestamp, which is what the JSON printer
// prints: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
inline constexpr std::int64_t kMinTimestampSeconds = -62'135'596'800;
inline constexpr std::int64_t kMaxTimestampSeconds = 253'402'300'799;
inline constexpr std::int32_t kMaxTimestampNanos = 999'999'999;

// Which payload a signal name requires.
enum class PayloadKind { kModelSave, kModelDelete, kM2MChanged, kUserSession, kLoginFailed, kCustom };
PayloadKind PayloadKindForSignal(std::string_view signal);
// The oneof case that goes with a PayloadKind.
v1::Event::PayloadCase PayloadCaseFor(PayloadKind kind);

// True for Django's built-in model and auth signals; every other name is custom.
bool IsBuiltinSignal(std::string_view signal);

// Checks everything a receiver relies on: schema version, a valid event id, a valid
// sender and signal, the limits above, the payload that the signal requires, instance
// labels.
Status ValidateEvent(const v1::Event& event);

// The publisher_id rule above.
bool IsValidPublisherId(std::string_view id);
Status ValidatePublisherId(std::string_view id);

// The kMaxValueNesting rule alone, on every Struct of the event: ValidateEvent() ends
// with it; the JSON parser, which validates nothing else, applies it too.
Status ValidateValueNesting(const v1::Event& event);
// True if `values` (1 deep itself) nests deeper than kMaxValueNesting. Looks no deeper
// than that, so it is safe on any message.
bool NestsTooDeeply(const google::protobuf::Struct& values);
// The error for JSON values nested too deeply; `what` names them ("custom.kwargs").
Status NestedTooDeeply(std::string_view what);

// Serialises. REQUIRES: the event is complete enough to serialise (always true).
std::string EncodeEvent(const v1::Event& event);

// Parses bytes from the wire without validating them; protobuf's complaint, if any, is
// in the error (and not logged: see proto_parse.h).
Status ParseEvent(std::string_view bytes, v1::Event& event);
// Parses and validates bytes from the wire.
Result<v1::Event> DecodeEvent(std::string_view bytes, std::size_t max_bytes = kDefaultMaxEventBytes);

// "auth.User/post_save". REQUIRES: ValidateEvent(event).ok().
std::string TopicOf(const v1::Event& event);

// "auth.User:42"; just the sender when there is no pk.
std::string OrderingKeyFor(std::string_view sender, std::string_view pk);
// The pk the event is about, from its payload; empty if none.
std::string PrimaryKeyOf(const v1::Event& event);

// Django masks credentials whose name matches API|TOKEN|KEY|SECRET|PASS|SIGNATURE.
bool IsSecretCredentialName(std::string_view name);
inline constexpr std::string_view kMaskedValue = "********************";
// Replaces each secret value in place.
void MaskCredentials(v1::LoginFailed* login_failed);

}  // namespace signalbus
