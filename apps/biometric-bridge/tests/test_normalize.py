from datetime import timedelta

import pytest

from biometric_bridge.normalize import Reading, normalise
from biometric_bridge.schema import Rejection, parse_event
from helpers import NOW, event


def norm(**overrides):
    return normalise(parse_event(event(**overrides)), NOW)


@pytest.mark.parametrize(
    "metric,value,unit,expected,canonical",
    [
        ("heart_rate", 62, "bpm", 62, "bpm"),
        ("hr", 1.05, "bps", 63, "bpm"),
        ("heart_rate", 1.2, "Hz", 72, "bpm"),
        ("hrv", 48.5, "ms", 48.5, "ms"),
        ("hrv_rmssd", 0.0485, "s", 48.5, "ms"),
        ("rmssd", 48500, "us", 48.5, "ms"),
        ("skin_temp", 33.4, "celsius", 33.4, "celsius"),
        ("temperature", 98.6, "°F", 37.0, "celsius"),
        ("skin_temperature", 92.1, "fahrenheit", 33.389, "celsius"),
        ("skin_temperature", 306.55, "K", 33.4, "celsius"),
        ("spo2", 97, "%", 97, "percent"),
        ("spo2", 0.97, "fraction", 97, "percent"),
        ("resp_rate", 14, "brpm", 14, "breaths_per_minute"),
    ],
)
def test_units_are_normalised(metric, value, unit, expected, canonical):
    got = norm(metric=metric, value=value, unit=unit)
    assert isinstance(got, Reading), got
    assert got.value == pytest.approx(expected, abs=1e-9)
    assert got.unit == canonical


@pytest.mark.parametrize(
    "overrides,reason",
    [
        ({"unit": "furlongs"}, "unknown_unit"),
        ({"metric": "hrv", "unit": "bpm"}, "unknown_unit"),
        ({"value": 300}, "implausible_value"),
        ({"value": 5, "unit": "bps"}, "implausible_value"),  # 300 bpm
        ({"metric": "spo2", "value": 97, "unit": "fraction"}, "implausible_value"),
        ({"metric": "skin_temperature", "value": 37, "unit": "kelvin"}, "implausible_value"),
        ({"recorded_at": (NOW + timedelta(minutes=6)).isoformat()}, "future_timestamp"),
        ({"recorded_at": (NOW - timedelta(days=31)).isoformat()}, "stale_timestamp"),
    ],
)
def test_rejections(overrides, reason):
    got = norm(**overrides)
    assert isinstance(got, Rejection) and got.reason == reason, got


def test_small_clock_skew_is_tolerated():
    assert isinstance(norm(recorded_at=(NOW + timedelta(minutes=4)).isoformat()), Reading)
