"""Deduplication keys.

Devices retry uploads and Kafka delivery is at-least-once, so the same reading arrives more
than once, sometimes with a fresh event_id. The key is therefore derived from what the
reading *is* (who, which device, which metric, when), not from the event_id. The database
enforces it with a unique index, which makes replays after a crash idempotent.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from .normalize import Reading

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_micros(ts: datetime) -> int:
    # Integer microseconds: float seconds would make equal instants hash differently.
    delta = ts.astimezone(timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def dedup_key(reading: Reading) -> str:
    material = "\x1f".join(
        (reading.user_id, reading.device_id, reading.metric, str(epoch_micros(reading.recorded_at)))
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
