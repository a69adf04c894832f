import json
from datetime import datetime, timezone

from biometric_bridge.pipeline import Message

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def event(**overrides):
    doc = {
        "event_id": "evt-1",
        "user_id": "athlete-1",
        "device_id": "watch-7",
        "metric": "heart_rate",
        "value": 62,
        "unit": "bpm",
        "recorded_at": "2024-05-01T11:59:00Z",
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


def message(offset, partition=0, topic="biometric-events", **overrides):
    return Message(topic, partition, offset, json.dumps(event(**overrides)).encode())
