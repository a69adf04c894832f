from datetime import datetime, timezone

import pytest

from biometric_bridge.schema import RawEvent, Rejection, decode, parse_event, parse_timestamp
from helpers import event


@pytest.mark.parametrize(
    "payload,reason",
    [
        (None, "empty_payload"),
        (b"\xff\xfe", "invalid_json"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"{" + b" " * 70000 + b"}", "too_large"),
    ],
)
def test_decode_rejections(payload, reason):
    got = decode(payload)
    assert isinstance(got, Rejection) and got.reason == reason


def test_decode_object():
    assert decode(b'{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)),
        ("2024-05-01T10:00:00.250z", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)),
        (1714557600, datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)),  # epoch seconds
        (1714557600250, datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)),  # epoch ms
    ],
)
def test_parse_timestamp_accepts(raw, expected):
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["2024-05-01T10:00:00", "yesterday", True, -5, float("nan"), None, [], 1e30])
def test_parse_timestamp_rejects(raw):
    got = parse_timestamp(raw)
    assert isinstance(got, Rejection) and got.reason == "invalid_timestamp"


def test_parse_event_canonicalises_metric_and_unit():
    got = parse_event(event(metric=" HeartRate ", unit=" BPM "))
    assert isinstance(got, RawEvent)
    assert (got.metric, got.unit, got.value) == ("heart_rate", "bpm", 62.0)
    assert got.recorded_at == datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)


def test_event_id_is_optional():
    got = parse_event(event(event_id=...))
    assert isinstance(got, RawEvent) and got.event_id is None


@pytest.mark.parametrize(
    "overrides,reason",
    [
        ({"user_id": ...}, "missing_field"),
        ({"device_id": ...}, "missing_field"),
        ({"user_id": "has space"}, "invalid_field"),
        ({"user_id": 42}, "invalid_field"),
        ({"event_id": "x" * 200}, "invalid_field"),
        ({"metric": ...}, "missing_field"),
        ({"metric": "glucose"}, "unknown_metric"),
        ({"metric": 3}, "unknown_metric"),
        ({"value": ...}, "missing_field"),
        ({"value": "62"}, "invalid_value"),
        ({"value": True}, "invalid_value"),
        ({"unit": ...}, "missing_field"),
        ({"unit": "  "}, "missing_field"),
        ({"recorded_at": ...}, "missing_field"),
        ({"recorded_at": "2024-05-01 11:00"}, "invalid_timestamp"),
    ],
)
def test_parse_event_rejections(overrides, reason):
    got = parse_event(event(**overrides))
    assert isinstance(got, Rejection), got
    assert got.reason == reason
