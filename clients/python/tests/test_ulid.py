"""ULID event ids: format, validity, time, and order within one millisecond."""
from signalbus import ulid


def test_new_ids_are_26_crockford_digits_and_valid():
    for _ in range(100):
        text = ulid.new_ulid()
        assert len(text) == 26
        assert set(text) <= set(ulid.ALPHABET)
        assert ulid.is_valid_ulid(text)


def test_id_encodes_its_millisecond():
    generator = ulid.UlidGenerator()
    assert ulid.ulid_millis(generator.new(1_700_000_000_123)) == 1_700_000_000_123
    assert ulid.UlidGenerator().new(1_469_918_176_385).startswith("01ARYZ6S41")  # the ULID spec's example
    assert ulid.UlidGenerator().new(0).startswith("0000000000")


def test_ids_made_in_one_millisecond_still_sort_in_creation_order():
    generator = ulid.UlidGenerator()
    ids = [generator.new(2_000_000_000_000) for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    assert all(ulid.ulid_millis(i) == 2_000_000_000_000 for i in ids)


def test_a_clock_stepping_back_keeps_ids_increasing():
    generator = ulid.UlidGenerator()
    later = generator.new(3_000_000_000_000)
    earlier_clock = generator.new(2_999_999_999_000)
    assert earlier_clock > later
    assert ulid.ulid_millis(earlier_clock) == 3_000_000_000_000


def test_invalid_ids_are_recognised():
    assert not ulid.is_valid_ulid("")
    assert not ulid.is_valid_ulid("0" * 25)
    assert not ulid.is_valid_ulid("8" + "0" * 25)  # beyond 128 bits
    assert not ulid.is_valid_ulid("0" * 25 + "U")  # not in the alphabet
    assert ulid.is_valid_ulid(ulid.new_ulid().lower())
