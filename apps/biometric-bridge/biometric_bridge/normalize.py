"""Unit normalisation: every reading leaves the bridge in one canonical unit per metric.

The canonical units and plausibility bounds match auren-api's metric catalogue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Dict, Tuple, Union

from .schema import RawEvent, Rejection

Convert = Callable[[float], float]


@dataclass(frozen=True)
class MetricRule:
    canonical_unit: str
    plausible_min: float
    plausible_max: float
    units: Dict[str, Convert]  # accepted unit spelling -> conversion to canonical


def _same(v: float) -> float:
    return v


RULES: Dict[str, MetricRule] = {
    "heart_rate": MetricRule("bpm", 20, 250, {
        "bpm": _same, "beats/min": _same, "1/min": _same, "/min": _same,
        "bps": lambda v: v * 60.0, "hz": lambda v: v * 60.0,
    }),
    "hrv": MetricRule("ms", 1, 500, {
        "ms": _same, "millisecond": _same, "milliseconds": _same,
        "s": lambda v: v * 1000.0, "sec": lambda v: v * 1000.0, "seconds": lambda v: v * 1000.0,
        "us": lambda v: v / 1000.0, "µs": lambda v: v / 1000.0, "microseconds": lambda v: v / 1000.0,
    }),
    "skin_temperature": MetricRule("celsius", 20, 45, {
        "celsius": _same, "c": _same, "°c": _same, "degc": _same,
        "fahrenheit": lambda v: (v - 32.0) * 5.0 / 9.0, "f": lambda v: (v - 32.0) * 5.0 / 9.0,
        "°f": lambda v: (v - 32.0) * 5.0 / 9.0, "degf": lambda v: (v - 32.0) * 5.0 / 9.0,
        "kelvin": lambda v: v - 273.15, "k": lambda v: v - 273.15,
    }),
    "spo2": MetricRule("percent", 50, 100, {
        "percent": _same, "%": _same, "pct": _same,
        # A fraction above 1 is not a fraction; it is rejected by the bounds check below.
        "fraction": lambda v: v * 100.0 if v <= 1.0 else float("nan"),
        "ratio": lambda v: v * 100.0 if v <= 1.0 else float("nan"),
    }),
    "respiratory_rate": MetricRule("breaths_per_minute", 3, 60, {
        "breaths_per_minute": _same, "brpm": _same, "rpm": _same, "/min": _same, "1/min": _same,
    }),
}

# Float artefacts such as 36.99999999 from F->C are noise; three decimals keep
# millisecond-level HRV and 0.001 °C resolution.
PRECISION = 3


@dataclass(frozen=True)
class Reading:
    user_id: str
    device_id: str
    metric: str
    value: float
    unit: str
    recorded_at: datetime
    event_id: object  # Optional[str]


def normalise(event: RawEvent, now: datetime, max_future_skew: timedelta = timedelta(minutes=5),
              max_age: timedelta = timedelta(days=30)) -> Union[Reading, Rejection]:
    rule = RULES[event.metric]
    convert = rule.units.get(event.unit)
    if convert is None:
        return Rejection(
            "unknown_unit",
            f"{event.metric} unit {event.unit!r} is not one of {sorted(rule.units)}",
        )
    value = round(convert(event.value), PRECISION)
    if not (rule.plausible_min <= value <= rule.plausible_max):  # also false for NaN
        return Rejection(
            "implausible_value",
            f"{event.metric} {event.value:g} {event.unit} -> {value:g} {rule.canonical_unit} "
            f"is outside {rule.plausible_min:g}-{rule.plausible_max:g}",
        )
    if event.recorded_at > now + max_future_skew:
        return Rejection("future_timestamp", f"recorded_at {event.recorded_at.isoformat()} is in the future; check the device clock")
    if event.recorded_at < now - max_age:
        return Rejection("stale_timestamp", f"recorded_at {event.recorded_at.isoformat()} is older than {max_age.days} days")
    return Reading(
        user_id=event.user_id,
        device_id=event.device_id,
        metric=event.metric,
        value=value,
        unit=rule.canonical_unit,
        recorded_at=event.recorded_at,
        event_id=event.event_id,
    )


def canonical_units() -> Dict[str, Tuple[str, float, float]]:
    return {m: (r.canonical_unit, r.plausible_min, r.plausible_max) for m, r in RULES.items()}
