"""CURVE for the client's sockets: the broker's public key it pins and its own key pair from a
secret key file, given explicitly or by SIGNALBUS_CURVE_SERVER_KEY / SIGNALBUS_CURVE_KEY_FILE.
The mirror of core/curve_keys.cc and core/curve_config.cc (same files, same checks, same
messages); every socket the client makes gets its CURVE from load_client() here.

Key files (as signalbus-keygen writes them): lines; blank ones and those starting with '#'
are ignored; the one other line is the key, 40 Z85 characters. A secret key file must be a
regular file that its group and others may neither read nor write (mode 0600)."""
import os
import stat

import zmq

from signalbus.errors import CurveKeyError

SERVER_KEY_ENV = "SIGNALBUS_CURVE_SERVER_KEY"
KEY_FILE_ENV = "SIGNALBUS_CURVE_KEY_FILE"
KEY_CHARS = 40  # Z85 of 32 bytes
_MAX_KEY_FILE_BYTES = 4096
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUE = {c: i for i, c in enumerate(_Z85)}
# What errors call the two settings: the names of a program's flags, or a setting's keys.
ARGUMENTS = ("curve_server_key", "curve_key_file")
FLAGS = ("--curve-server-key", "--curve-key-file")


def available():
    """Whether this libzmq was built with CURVE (zmq_has("curve"))."""
    return bool(zmq.has("curve"))


class CurveClient:
    """What a client socket needs: the pinned broker key and this client's pair (Z85 text)."""

    __slots__ = ("server_key", "public_key", "secret_key")

    def __init__(self, server_key, public_key, secret_key):
        self.server_key = server_key
        self.public_key = public_key
        self.secret_key = secret_key

    def __repr__(self):  # never the secret
        return "CurveClient(server_key=%s, public_key=%s)" % (self.server_key, self.public_key)

    def apply(self, socket):
        """Makes `socket` a CURVE client of the pinned broker. REQUIRES: before connect()."""
        socket.curve_serverkey = self.server_key.encode()
        socket.curve_publickey = self.public_key.encode()
        socket.curve_secretkey = self.secret_key.encode()
        if socket.getsockopt(zmq.MECHANISM) != zmq.CURVE or socket.getsockopt(zmq.CURVE_SERVER) != 0:
            raise CurveKeyError("the CURVE client options did not read back as set")


def validate_key(key, what):
    """Raises CurveKeyError unless `key` is 40 Z85 characters decoding to 32 bytes (as
    zmq_z85_decode checks them); the message names `what`, never the key."""
    if len(key) != KEY_CHARS:
        raise CurveKeyError("%s is %d characters long; a CURVE key is %d Z85 characters" % (what, len(key), KEY_CHARS))
    for start in range(0, KEY_CHARS, 5):
        value = 0
        for c in key[start:start + 5]:
            digit = _Z85_VALUE.get(c)
            if digit is None:
                raise CurveKeyError("%s is not Z85 text" % what)
            value = value * 85 + digit
        if value > 0xFFFFFFFF:
            raise CurveKeyError("%s is not Z85 text" % what)


def _read_small_file(path):
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise CurveKeyError("cannot read %s: %s" % (path, error.strerror)) from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise CurveKeyError("%s is too large for a key file" % path)
    return data.decode("utf-8", "replace")


def _key_line(text, path):
    keys = []
    for line in text.split("\n"):
        line = line.rstrip("\r \t").lstrip(" \t")
        if line and not line.startswith("#"):
            keys.append(line)
    if len(keys) != 1:
        raise CurveKeyError("%s holds %d key lines; a key file holds exactly one" % (path, len(keys)))
    return keys[0]


def read_secret_file(path):
    """(public key, secret key) from a secret key file, the public one derived from the
    secret. Refused, naming the path, when it is missing or not a regular file, when its
    group or others may read or write it, or when it does not hold exactly one valid key."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CurveKeyError("no secret key file %s" % path) from None
    except OSError as error:
        raise CurveKeyError("cannot stat %s: %s" % (path, error.strerror)) from None
    if not stat.S_ISREG(st.st_mode):
        raise CurveKeyError("%s is not a regular file" % path)
    if st.st_mode & 0o077:
        raise CurveKeyError("secret key file %s has mode %04o: its group and others may not read or write it "
                            "(chmod 600 %s)" % (path, stat.S_IMODE(st.st_mode), path))
    secret = _key_line(_read_small_file(path), path)
    validate_key(secret, "the secret key in %s" % path)
    if not available():
        raise CurveKeyError("this libzmq was built without CURVE")
    return zmq.curve_public(secret.encode()).decode(), secret


def read_public_key(key_or_path):
    """A public key given as its 40 Z85 characters, or as the path of a file holding it."""
    if len(key_or_path) == KEY_CHARS and not os.path.exists(key_or_path):
        validate_key(key_or_path, "the public key given")
        return key_or_path
    if not os.path.isfile(key_or_path):
        # Never the value itself: it may be a secret key pasted in the wrong place.
        raise CurveKeyError("the value given (%d characters) is neither a CURVE public key (%d Z85 characters) "
                            "nor an existing key file" % (len(key_or_path), KEY_CHARS))
    key = _key_line(_read_small_file(key_or_path), key_or_path)
    validate_key(key, "the public key in %s" % key_or_path)
    return key


def settings_from_env(server_key=None, key_file=None):
    """(server_key, key_file): each one given, else its SIGNALBUS_CURVE_* variable, else ""."""
    return (server_key or os.environ.get(SERVER_KEY_ENV) or "", key_file or os.environ.get(KEY_FILE_ENV) or "")


def load_client(server_key=None, key_file=None, names=ARGUMENTS):
    """The CurveClient of these settings (each falling back to its environment variable),
    or None when neither is set (no CURVE). CurveKeyError when only one is set (naming the
    missing one as `names` calls them), when a key or file is refused, or without CURVE."""
    server_key, key_file = settings_from_env(server_key, key_file)
    if not server_key and not key_file:
        return None
    if not server_key:
        raise CurveKeyError("a CURVE key file needs the broker's public key too (%s or %s)"
                            % (names[0], SERVER_KEY_ENV))
    if not key_file:
        raise CurveKeyError("the broker's public key needs this client's key file too (%s or %s; signalbus-keygen "
                            "writes one)" % (names[1], KEY_FILE_ENV))
    if not available():
        raise CurveKeyError('this libzmq was built without CURVE (zmq_has("curve") is false)')
    server = read_public_key(server_key)
    public, secret = read_secret_file(key_file)
    return CurveClient(server, public, secret)
