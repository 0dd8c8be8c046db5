"""CURVE for the tests: key pairs written by the real signalbus-keygen, an allow-list file
(broker/auth/include/signalbus/auth/allow_list.h) and a broker started with both."""
import collections
import subprocess

from support.programs import Broker, program

Key = collections.namedtuple("Key", "name key_file pub_file public_key")


def keygen(directory, name):
    """NAME.key (0600) and NAME.pub in `directory`, by signalbus-keygen."""
    result = subprocess.run([program("signalbus-keygen"), "--dir", str(directory), name],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    pub_file = "%s/%s.pub" % (directory, name)
    with open(pub_file) as f:
        public_key = [line.strip() for line in f if line.strip() and not line.startswith("#")][0]
    return Key(name, "%s/%s.key" % (directory, name), pub_file, public_key)


def write_allow_list(path, principals):
    """principals: {name: {"keys": [Key, ...], "publish": [...], "subscribe": [...], ...}}."""
    def strings(values):
        return "[%s]" % ", ".join('"%s"' % v for v in values)

    with open(path, "w") as f:
        for name, grants in principals.items():
            f.write('[[principal]]\nname = "%s"\n' % name)
            f.write("keys = %s\n" % strings(k.public_key for k in grants.get("keys", [])))
            for right in ("publish", "subscribe", "join", "admin", "publisher_ids"):
                if right in grants:
                    f.write("%s = %s\n" % (right, strings(grants[right])))
    return path


def start_curve_broker(spawn, tmp_path, principals):
    """A broker with CURVE on every endpoint and the allow-list of `principals`; returns it
    and its Key."""
    broker_key = keygen(tmp_path, "broker")
    allow = write_allow_list(str(tmp_path / "allow.toml"), principals)
    broker = Broker(spawn, str(tmp_path / "broker-data"),
                    extra_args=["--curve-key-file", broker_key.key_file, "--allow-list", allow])
    return broker.start(), broker_key
