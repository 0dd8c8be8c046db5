"""The Python member's group rules against proto/testdata/group_rules.json, the vectors the
C++ definition (core/include/signalbus/core/group_rules.h) is tested against too: one
rule, two mirrors that cannot drift apart unnoticed."""
import json
import pathlib

import pytest

from signalbus import group_rules
from signalbus.group_rules import GroupError, add_ack_ranges, validate_group_name, validate_heartbeat
from signalbus.proto import groups_pb2

VECTORS = json.loads((pathlib.Path(__file__).resolve().parents[3] / "proto/testdata/group_rules.json").read_text())


def test_limits_are_the_shared_ones():
    assert group_rules.MAX_GROUP_NAME_BYTES == VECTORS["max_group_name_bytes"]
    assert group_rules.MAX_MEMBER_NAME_BYTES == VECTORS["max_member_name_bytes"]
    assert group_rules.MAX_NACK_ERROR_BYTES == VECTORS["max_nack_error_bytes"]
    assert group_rules.MIN_HEARTBEAT_MS == VECTORS["min_heartbeat_ms"]
    assert group_rules.MAX_HEARTBEAT_MS == VECTORS["max_heartbeat_ms"]
    assert group_rules.DEFAULT_HEARTBEAT_MS == VECTORS["default_heartbeat_ms"]
    assert group_rules.MISSED_HEARTBEATS == VECTORS["missed_heartbeats"]
    assert group_rules.MAX_ACK_REFS == VECTORS["max_ack_refs"]


@pytest.mark.parametrize("case", VECTORS["ack_ranges"], ids=lambda c: "%d refs" % len(c["refs"]))
def test_acks_become_the_ranges_the_vectors_say(case):
    ack = groups_pb2.Ack()
    add_ack_ranges([groups_pb2.DeliveryRef(offset=o, attempt=a) for o, a in case["refs"]], ack)
    assert [[r.first, r.count, r.attempt] for r in ack.ranges] == case["ranges"]
    assert not ack.deliveries


@pytest.mark.parametrize("name", VECTORS["valid_group_names"])
def test_valid_group_names_are_accepted(name):
    validate_group_name(name)


@pytest.mark.parametrize("name", VECTORS["invalid_group_names"])
def test_invalid_group_names_are_refused(name):
    with pytest.raises(GroupError):
        validate_group_name(name)


@pytest.mark.parametrize("ms", VECTORS["valid_heartbeats_ms"])
def test_heartbeats_within_the_bounds_are_accepted(ms):
    validate_heartbeat(ms / 1000)


@pytest.mark.parametrize("ms", VECTORS["invalid_heartbeats_ms"])
def test_heartbeats_outside_the_bounds_are_refused(ms):
    with pytest.raises(GroupError, match="is outside 10ms to 60s"):
        validate_heartbeat(ms / 1000)
