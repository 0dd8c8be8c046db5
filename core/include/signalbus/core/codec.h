// The Event envelope: what each signal must carry, encoding, and decoding of untrusted
// bytes. Decoding never crashes: truncated, oversized or random input is a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

namespace v1 = ::signalbus::v1;

inline constexpr std::uint32_t kSchemaVersion = 1;
inline constexpr std::size_t kDefaultMaxEventBytes = 1 << 20;  // 1 MiB
// First frame of the publish-confirm messages the broker sends upstream on ingest.
inline constexpr std::string_view kConfirmTopic = "$confirm";

// Which payload a signal name requires.
enum class PayloadKind { kModelSave, kModelDelete, kM2MChanged, kUserSession, kLoginFailed, kCustom };
PayloadKind PayloadKindForSignal(std::string_view signal);
// The oneof case that goes with a PayloadKind.
v1::Event::PayloadCase PayloadCaseFor(PayloadKind kind);

// True for Django's built-in model and auth signals; every other name is custom.
bool IsBuiltinSignal(std::string_view signal);

// Checks everything a receiver relies on: schema version, a valid event id, a valid
// sender and signal, the payload that the signal requires, instance labels.
Status ValidateEvent(const v1::Event& event);

// Serialises. REQUIRES: the event is complete enough to serialise (always true).
std::string EncodeEvent(const v1::Event& event);

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
