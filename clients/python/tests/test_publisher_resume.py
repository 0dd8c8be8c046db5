"""A publisher whose numbering outlives the process (the outbox relay): it resumes events
numbered by an earlier process, re-sent with their sequences, and goes on from
next_sequence; the broker logs each once. Real broker, real signalbus-audit."""
import collections
import json

import pytest

from signalbus import Publisher, envelope
from signalbus.errors import SignalbusError
from support.processes import appended_lines, wait_until
from support.programs import program


def audited(path):
    return collections.Counter(json.loads(line)["sequence"] for line in appended_lines(path))


def test_resumed_events_are_logged_once_and_numbering_goes_on(spawn, broker, tmp_path):
    audit_file = str(tmp_path / "audit.ndjson")
    spawn([program("signalbus-audit"), "--file", audit_file, "--groups", broker.groups, "--start", "earliest",
           "--heartbeat", "200ms"], name="audit").wait_for_line("ready")
    first = Publisher(broker.ingest, "relay", publisher_id="outbox-test")
    made = [first.post_save("auth.User", str(pk), {"username": "u%d" % pk}, created=True) for pk in range(1, 6)]
    first.flush(10)
    first.close()
    # A second process resumes 3..5 (confirmed, but say its store still holds them) and
    # goes on at 6: the broker drops the three re-sends as duplicates.
    resumed = []
    for event in made[2:]:
        copy = type(event)()
        copy.CopyFrom(event)
        resumed.append(copy)
    second = Publisher(broker.ingest, "relay", publisher_id="outbox-test", next_sequence=6, resume=resumed)
    second.set_floor(3)
    second.post_save("auth.User", "6", {"username": "u6"}, created=True)
    second.publish(envelope.model_save("post_save", "auth.User", "8", {"username": "u8"}, created=True), sequence=8)
    with pytest.raises(SignalbusError):
        second.publish(envelope.model_save("post_save", "auth.User", "7", {}, created=True), sequence=7)
    assert second.take_settled()[0] <= 8
    # 8 follows a gap (7 never sent): the broker holds it back; so 6 is the last logged.
    wait_until(lambda: sorted(audited(audit_file)) == ["1", "2", "3", "4", "5", "6"], 20, "sequences 1..6 audited")
    assert max(audited(audit_file).values()) == 1
    second.close(0)


def test_resume_and_next_sequence_need_a_fixed_id(broker):
    with pytest.raises(SignalbusError):
        Publisher(broker.ingest, "relay", next_sequence=5, connect_timeout=0)
