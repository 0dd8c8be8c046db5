// CURVE key pairs for the broker and its clients (issue 11): generating one, writing it
// as two files — NAME.pub (the public key, for anyone) and NAME.key (the secret, mode
// 0600) — and reading them back with the checks a daemon makes before it trusts a
// secret: a regular file, readable by its owner alone, holding one Z85 key. Keys are Z85
// text of 40 characters (32 bytes), as libzmq takes them.
//
// File format (both files): lines; blank lines and lines starting with '#' are ignored;
// the one other line is the key. signalbus-keygen writes a comment saying which key it is.
#pragma once

#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

inline constexpr std::size_t kCurveKeyChars = 40;  // Z85 of 32 bytes

struct CurveKeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// Whether this libzmq was built with CURVE (zmq_has("curve")).
bool CurveAvailable();

// A fresh pair (zmq_curve_keypair). Unavailable when CURVE is not built in.
Result<CurveKeyPair> GenerateCurveKeyPair();

// OK if `key` is 40 Z85 characters that decode to 32 bytes; else InvalidArgument naming
// `what` ("the broker's public key") and what is wrong, never the key itself.
Status ValidateCurveKey(std::string_view key, std::string_view what);

// Writes DIR/NAME.pub and DIR/NAME.key (0600, created 0600: never readable by others even
// for a moment), each written to a temporary file, synced and renamed. Refuses to replace
// existing files unless `overwrite`. NAME: [A-Za-z0-9_.-]{1,100}.
Status WriteCurveKeyPair(const std::string& dir, const std::string& name, const CurveKeyPair& pair, bool overwrite);

// Reads a secret key file and derives its public key (zmq_curve_public). Refused
// (FailedPrecondition / InvalidArgument / NotFound, naming the path) when it is not a
// regular file, when its group or others may read or write it, or when it does not hold
// exactly one valid key.
Result<CurveKeyPair> ReadCurveSecretFile(const std::string& path);

// A public key given on a command line or in a setting: the 40 Z85 characters
// themselves, or the path of a file holding them (a NAME.pub).
Result<std::string> ReadCurvePublicKey(const std::string& key_or_path);

}  // namespace signalbus
