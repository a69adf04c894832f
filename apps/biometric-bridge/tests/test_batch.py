from datetime import timedelta

import pytest

from biometric_bridge.batch import BatchBuilder, Position
from biometric_bridge.dedup import dedup_key, epoch_micros
from biometric_bridge.normalize import normalise
from biometric_bridge.schema import parse_event
from helpers import NOW, event


def reading(**overrides):
    return normalise(parse_event(event(**overrides)), NOW)


def pos(offset, partition=0):
    return Position("biometric-events", partition, offset)


def test_dedup_key_ignores_event_id_and_timezone_spelling():
    a = reading(event_id="a", recorded_at="2024-05-01T11:59:00Z")
    b = reading(event_id="b", recorded_at="2024-05-01T13:59:00+02:00")
    assert dedup_key(a) == dedup_key(b)
    assert len(dedup_key(a)) == 32


@pytest.mark.parametrize(
    "field,value",
    [("user_id", "athlete-2"), ("device_id", "ring-1"), ("metric", "hrv"), ("recorded_at", "2024-05-01T11:59:00.001Z")],
)
def test_dedup_key_changes_with_identity(field, value):
    base = reading()
    other = reading(**{field: value, **({"unit": "ms"} if field == "metric" else {})})
    assert dedup_key(base) != dedup_key(other)


def test_epoch_micros_is_exact():
    assert epoch_micros(NOW + timedelta(microseconds=1)) - epoch_micros(NOW) == 1


def test_builder_dedups_and_tracks_next_offsets():
    b = BatchBuilder(max_size=10, max_age_seconds=5)
    assert b.add(reading(), pos(10), now=0.0)
    assert not b.add(reading(event_id="retry"), pos(11), now=0.1)  # same reading again
    b.skip(pos(12), now=0.2)  # rejected message still advances the offset
    assert b.add(reading(value=70, recorded_at="2024-05-01T11:59:30Z"), pos(3, partition=1), now=0.3)
    snap = b.snapshot()
    assert len(snap.rows) == 2 and snap.duplicates_in_batch == 1
    assert snap.offsets == {("biometric-events", 0): 13, ("biometric-events", 1): 4}


@pytest.mark.parametrize(
    "adds,now,ready",
    [
        (0, 100.0, False),  # nothing pending
        (1, 1.0, False),  # young and small
        (1, 5.0, True),  # old enough
        (3, 0.5, True),  # full
    ],
)
def test_ready(adds, now, ready):
    b = BatchBuilder(max_size=3, max_age_seconds=5)
    for i in range(adds):
        b.add(reading(recorded_at=f"2024-05-01T11:5{i}:00Z"), pos(i), now=0.0)
    assert b.ready(now) is ready


def test_only_rejections_still_make_a_ready_batch():
    b = BatchBuilder(max_size=3, max_age_seconds=1)
    b.skip(pos(7), now=0.0)
    assert b.ready(2.0) and b.snapshot().offsets == {("biometric-events", 0): 8}
    assert not b.snapshot().empty


def test_clear_and_drop_partitions():
    b = BatchBuilder(max_size=10, max_age_seconds=1)
    b.add(reading(), pos(1, 0), now=0.0)
    b.add(reading(device_id="ring-1"), pos(1, 1), now=0.0)
    b.drop_partitions([("biometric-events", 0)])
    snap = b.snapshot()
    assert [r.position.partition for r in snap.rows] == [1]
    assert list(snap.offsets) == [("biometric-events", 1)]
    b.drop_partitions([("biometric-events", 1)])
    assert b.snapshot().empty and not b.ready(100.0)


def test_invalid_limits():
    with pytest.raises(ValueError):
        BatchBuilder(max_size=0)
    with pytest.raises(ValueError):
        BatchBuilder(max_age_seconds=0)
