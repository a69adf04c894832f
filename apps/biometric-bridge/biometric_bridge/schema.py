"""Validation of raw biometric events as devices publish them to Kafka.

Expected outcomes are values: `parse_event` returns either a RawEvent or a Rejection
with a machine-readable reason (used as a metrics label) and a human-readable detail.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Union

# Device firmware in the field uses several spellings; all map to one canonical metric.
METRIC_ALIASES = {
    "heart_rate": "heart_rate",
    "heartrate": "heart_rate",
    "hr": "heart_rate",
    "hrv": "hrv",
    "hrv_rmssd": "hrv",
    "rmssd": "hrv",
    "skin_temperature": "skin_temperature",
    "skin_temp": "skin_temperature",
    "temperature": "skin_temperature",
    "spo2": "spo2",
    "oxygen_saturation": "spo2",
    "respiratory_rate": "respiratory_rate",
    "resp_rate": "respiratory_rate",
}

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_EVENT_BYTES = 64 * 1024
# Epoch numbers above this are taken as milliseconds (1e11 s is the year 5138).
EPOCH_MS_THRESHOLD = 1e11


@dataclass(frozen=True)
class RawEvent:
    user_id: str
    device_id: str
    metric: str  # canonical metric name
    value: float
    unit: str  # as sent, lower-cased and stripped
    recorded_at: datetime  # UTC, timezone-aware
    event_id: Optional[str]


@dataclass(frozen=True)
class Rejection:
    reason: str  # short stable token, e.g. "missing_field"
    detail: str


ParseResult = Union[RawEvent, Rejection]


def decode(payload: Optional[bytes]) -> Union[Mapping[str, Any], Rejection]:
    if payload is None:
        # Tombstones (null values) carry no reading.
        return Rejection("empty_payload", "message has no value (tombstone)")
    if len(payload) > MAX_EVENT_BYTES:
        return Rejection("too_large", f"event is {len(payload)} bytes, limit {MAX_EVENT_BYTES}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return Rejection("invalid_json", "payload is not UTF-8")
    except json.JSONDecodeError as e:
        return Rejection("invalid_json", f"payload is not JSON: {e.msg} at position {e.pos}")
    if not isinstance(doc, dict):
        return Rejection("invalid_json", f"event must be a JSON object, got {type(doc).__name__}")
    return doc


def parse_timestamp(raw: Any) -> Union[datetime, Rejection]:
    if isinstance(raw, bool):
        return Rejection("invalid_timestamp", "recorded_at must be ISO-8601 or epoch, not a boolean")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw) or raw < 0:
            return Rejection("invalid_timestamp", f"recorded_at epoch {raw!r} is not a valid time")
        seconds = raw / 1000.0 if raw >= EPOCH_MS_THRESHOLD else float(raw)
        try:
            return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
        except OverflowError:
            return Rejection("invalid_timestamp", f"recorded_at epoch {raw!r} is out of range")
    if isinstance(raw, str):
        text = raw.strip()
        # Python 3.11 fromisoformat accepts "Z"; older ones do not, so normalise it.
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            return Rejection("invalid_timestamp", f"recorded_at {raw!r} is not ISO-8601")
        if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
            return Rejection("invalid_timestamp", f"recorded_at {raw!r} has no timezone offset")
        return ts.astimezone(timezone.utc)
    return Rejection("invalid_timestamp", "recorded_at must be an ISO-8601 string or an epoch number")


def _identifier(doc: Mapping[str, Any], field: str, required: bool = True) -> Union[str, None, Rejection]:
    raw = doc.get(field)
    if raw is None:
        return Rejection("missing_field", f"{field} is required") if required else None
    if not isinstance(raw, str) or not ID_PATTERN.match(raw):
        return Rejection("invalid_field", f"{field} must match {ID_PATTERN.pattern}")
    return raw


def parse_event(doc: Mapping[str, Any]) -> ParseResult:
    fields = {}
    for name, required in (("user_id", True), ("device_id", True), ("event_id", False)):
        got = _identifier(doc, name, required)
        if isinstance(got, Rejection):
            return got
        fields[name] = got

    metric_raw = doc.get("metric")
    if metric_raw is None:
        return Rejection("missing_field", "metric is required")
    metric = METRIC_ALIASES.get(str(metric_raw).strip().lower()) if isinstance(metric_raw, str) else None
    if metric is None:
        return Rejection("unknown_metric", f"metric {metric_raw!r} is not one of {sorted(set(METRIC_ALIASES.values()))}")

    value = doc.get("value")
    if value is None:
        return Rejection("missing_field", "value is required")
    # bool is an int subclass in Python; true/false is never a reading.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return Rejection("invalid_value", f"value must be a finite number, got {value!r}")

    unit = doc.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        return Rejection("missing_field", "unit is required (e.g. 'bpm', 'ms', 'celsius')")

    if "recorded_at" not in doc:
        return Rejection("missing_field", "recorded_at is required")
    ts = parse_timestamp(doc["recorded_at"])
    if isinstance(ts, Rejection):
        return ts

    return RawEvent(
        user_id=fields["user_id"],
        device_id=fields["device_id"],
        metric=metric,
        value=float(value),
        unit=unit.strip().lower(),
        recorded_at=ts,
        event_id=fields["event_id"],
    )
