// CURVE key pairs: libzmq's generator and Z85 codec, the two key files and their checks.
#include "signalbus/core/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <zmq.h>

namespace signalbus {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

// Writes `text` to `path` through a temporary file created with `mode`, synced, renamed.
Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode, bool overwrite) {
  if (!overwrite && ::access(path.c_str(), F_OK) == 0) {
    return FailedPrecondition(path + " exists already (--force replaces it)");
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Internal(Errno("cannot create " + tmp));
  // The umask may have taken bits away, never added any: set exactly `mode`.
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  Status status = ok ? Status::Ok() : Internal(Errno("cannot write " + tmp));
  ::close(fd);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) status = Internal(Errno("cannot rename " + tmp));
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

// The one key line of a key file's text.
Result<std::string> KeyLine(const std::string& text, const std::string& path) {
  std::istringstream lines(text);
  std::string line, key;
  int keys = 0;
  while (std::getline(lines, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    key = line.substr(start);
    ++keys;
  }
  if (keys != 1) {
    return InvalidArgument(path + " holds " + std::to_string(keys) + " key lines; a key file holds exactly one");
  }
  return key;
}

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal(Errno("cannot read " + path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 4096) return InvalidArgument(path + " is too large for a key file");
  return text;
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

Result<CurveKeyPair> GenerateCurveKeyPair() {
  if (!CurveAvailable()) return Unavailable("this libzmq was built without CURVE");
  char public_key[kCurveKeyChars + 1];
  char secret_key[kCurveKeyChars + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) return Internal(Errno("zmq_curve_keypair"));
  return CurveKeyPair{public_key, secret_key};
}

Status ValidateCurveKey(std::string_view key, std::string_view what) {
  if (key.size() != kCurveKeyChars) {
    return InvalidArgument(std::string(what) + " is " + std::to_string(key.size()) + " characters long; a CURVE key is " +
                           std::to_string(kCurveKeyChars) + " Z85 characters");
  }
  std::string text(key);
  std::uint8_t bytes[32];
  if (zmq_z85_decode(bytes, text.c_str()) == nullptr) {
    return InvalidArgument(std::string(what) + " is not Z85 text");
  }
  return Status::Ok();
}

Status WriteCurveKeyPair(const std::string& dir, const std::string& name, const CurveKeyPair& pair, bool overwrite) {
  if (!ValidName(name)) {
    return InvalidArgument("key name '" + name + "' may only hold letters, digits, '.', '_' and '-' (1 to 100)");
  }
  if (Status s = ValidateCurveKey(pair.public_key, "the public key"); !s.ok()) return s;
  if (Status s = ValidateCurveKey(pair.secret_key, "the secret key"); !s.ok()) return s;
  const std::string base = (dir.empty() ? std::string(".") : dir) + "/" + name;
  const std::string secret = "# signalbus CURVE secret key of " + name +
                             ". Keep it mode 0600; never copy it off this machine.\n# Its public key is in " + name +
                             ".pub.\n" + pair.secret_key + "\n";
  const std::string pub = "# signalbus CURVE public key of " + name + ": give it to whoever must trust " + name +
                          ".\n" + pair.public_key + "\n";
  if (!overwrite) {
    for (const std::string& path : {base + ".key", base + ".pub"}) {
      if (::access(path.c_str(), F_OK) == 0) return FailedPrecondition(path + " exists already (--force replaces it)");
    }
  }
  if (Status s = WriteFileAtomically(base + ".key", secret, 0600, overwrite); !s.ok()) return s;
  return WriteFileAtomically(base + ".pub", pub, 0644, overwrite);
}

Result<CurveKeyPair> ReadCurveSecretFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status(NotFound("no secret key file " + path)) : Internal(Errno("cannot stat " + path));
  }
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPrecondition("secret key file " + path + " has mode " + mode +
                              ": its group and others may not read or write it (chmod 600 " + path + ")");
  }
  Result<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  Result<std::string> secret = KeyLine(*text, path);
  if (!secret.ok()) return secret.status();
  if (Status s = ValidateCurveKey(*secret, "the secret key in " + path); !s.ok()) return s;
  if (!CurveAvailable()) return Unavailable("this libzmq was built without CURVE");
  char public_key[kCurveKeyChars + 1];
  if (zmq_curve_public(public_key, secret->c_str()) != 0) return Internal(Errno("zmq_curve_public"));
  return CurveKeyPair{public_key, *secret};
}

Result<std::string> ReadCurvePublicKey(const std::string& key_or_path) {
  if (key_or_path.size() == kCurveKeyChars && ::access(key_or_path.c_str(), F_OK) != 0) {
    if (Status s = ValidateCurveKey(key_or_path, "the public key given"); !s.ok()) return s;
    return key_or_path;
  }
  struct stat st {};
  if (::stat(key_or_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    // Never the value itself: it may be a secret key pasted in the wrong place.
    return InvalidArgument("the value given (" + std::to_string(key_or_path.size()) +
                           " characters) is neither a CURVE public key (40 Z85 characters) nor an existing key file");
  }
  Result<std::string> text = ReadSmallFile(key_or_path);
  if (!text.ok()) return text.status();
  Result<std::string> key = KeyLine(*text, key_or_path);
  if (!key.ok()) return key.status();
  if (Status s = ValidateCurveKey(*key, "the public key in " + key_or_path); !s.ok()) return s;
  return key;
}

}  // namespace signalbus
