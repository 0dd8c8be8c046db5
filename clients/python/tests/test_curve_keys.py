"""The CURVE settings' rules, as core/curve_keys.cc and core/curve_config.cc have them, on
files written by the real signalbus-keygen: a secret key file others may read is refused
(Publisher, member, worker, Django) with "chmod 600"; one setting without the other names
what is missing; arguments beat the environment; a key file holds one key line."""
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

import signalbus
from signalbus import curve
from signalbus.django.conf import Config
from signalbus.group_member import GroupMember, GroupOptions
from support.curve import keygen
from support.programs import PYTHON, child_env


@pytest.fixture
def keys(tmp_path, monkeypatch):
    monkeypatch.delenv(curve.SERVER_KEY_ENV, raising=False)
    monkeypatch.delenv(curve.KEY_FILE_ENV, raising=False)
    return keygen(tmp_path, "broker"), keygen(tmp_path, "accounts")


def test_a_secret_key_file_others_may_read_is_refused_everywhere_saying_chmod_600(keys, spawn):
    broker, client = keys
    os.chmod(client.key_file, 0o644)
    expected = "secret key file %s has mode 0644: its group and others may not read or write it (chmod 600 %s)" % (
        client.key_file, client.key_file)
    with pytest.raises(signalbus.CurveKeyError) as refused:
        signalbus.Publisher("tcp://127.0.0.1:1", curve_server_key=broker.public_key, curve_key_file=client.key_file)
    assert str(refused.value) == expected
    member = GroupMember("tcp://127.0.0.1:1", "g", GroupOptions(curve_server_key=broker.pub_file,
                                                                curve_key_file=client.key_file))
    with pytest.raises(signalbus.CurveKeyError, match="chmod 600"):
        member.open(["auth.User/post_save"])
    with pytest.raises(ImproperlyConfigured, match=r"SIGNALBUS\['CURVE'\]: .*chmod 600"):
        Config({"CURVE": {"SERVER_KEY": broker.pub_file, "KEY_FILE": client.key_file}})
    worker = spawn([PYTHON, "-m", "signalbus.worker", "--curve-server-key", broker.pub_file,
                    "--curve-key-file", client.key_file, "worker_receivers"], env=child_env(), name="worker")
    assert worker.wait(30) == 2
    assert expected in worker.stderr()
    os.chmod(client.key_file, 0o600)
    assert curve.load_client(broker.pub_file, client.key_file).public_key == client.public_key


def test_one_setting_without_the_other_names_the_missing_one(keys, monkeypatch):
    broker, client = keys
    with pytest.raises(signalbus.CurveKeyError, match="needs the broker's public key too .*SIGNALBUS_CURVE_SERVER_KEY"):
        signalbus.Publisher("tcp://127.0.0.1:1", curve_key_file=client.key_file)
    with pytest.raises(signalbus.CurveKeyError, match="needs this client's key file too .*--curve-key-file"):
        curve.load_client(broker.public_key, None, names=curve.FLAGS)
    with pytest.raises(ImproperlyConfigured, match=r"""key file too \(SIGNALBUS\["CURVE"\]\["KEY_FILE"\]"""):
        Config({"CURVE": {"SERVER_KEY": broker.public_key}})
    assert curve.load_client() is None
    assert Config({}).curve_server_key == ""
    # The environment fills what is not given; what is given wins.
    monkeypatch.setenv(curve.KEY_FILE_ENV, client.key_file)
    monkeypatch.setenv(curve.SERVER_KEY_ENV, "not-a-key")
    assert curve.load_client(broker.pub_file).server_key == broker.public_key
    with pytest.raises(signalbus.CurveKeyError, match=r"the value given \(9 characters\) is neither a CURVE public key"):
        curve.load_client()


def test_a_key_file_holds_exactly_one_key_line_comments_and_blanks_aside(keys, tmp_path):
    broker, client = keys
    with open(client.key_file) as f:
        secret = [line.strip() for line in f if line.strip() and not line.startswith("#")][0]

    def secret_file(name, text):
        path = str(tmp_path / name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        return path

    assert curve.read_secret_file(secret_file("ok.key", "# mine\n\n  %s \r\n" % secret)) == (client.public_key, secret)
    with pytest.raises(signalbus.CurveKeyError, match="holds 2 key lines; a key file holds exactly one"):
        curve.read_secret_file(secret_file("two.key", "%s\n%s\n" % (secret, secret)))
    with pytest.raises(signalbus.CurveKeyError, match="holds 0 key lines"):
        curve.read_secret_file(secret_file("none.key", "# nothing\n"))
    bad = secret[:-1] + "~"  # not a Z85 character
    with pytest.raises(signalbus.CurveKeyError) as not_z85:
        curve.read_secret_file(secret_file("bad.key", bad + "\n"))
    assert str(not_z85.value).endswith("is not Z85 text") and bad not in str(not_z85.value)
    with pytest.raises(signalbus.CurveKeyError, match="is 39 characters long; a CURVE key is 40 Z85 characters"):
        curve.read_public_key(secret_file("short.pub", broker.public_key[:-1]))
    with pytest.raises(signalbus.CurveKeyError, match="no secret key file"):
        curve.read_secret_file(str(tmp_path / "missing.key"))
    with pytest.raises(signalbus.CurveKeyError, match="is not a regular file"):
        curve.read_secret_file(str(tmp_path))
    assert curve.read_public_key(broker.public_key) == broker.public_key
    assert curve.read_public_key(broker.pub_file) == broker.public_key
