"""Offset checkpoints in one Redis hash per consumer group: field "topic:partition" -> next offset.

One HSET with all fields of a batch is atomic, so a checkpoint never mixes two batches.
"""
from __future__ import annotations

from typing import Dict, Iterable

import redis

from ..batch import TopicPartition


class RedisCheckpoints:
    def __init__(self, client, group_id: str, prefix: str = "biometric-bridge:offsets") -> None:
        self._client = client
        self.key = f"{prefix}:{group_id}"

    @staticmethod
    def _field(tp: TopicPartition) -> str:
        # Kafka topic names cannot contain ':', so the field is unambiguous.
        return f"{tp[0]}:{tp[1]}"

    def load(self, partitions: Iterable[TopicPartition]) -> Dict[TopicPartition, int]:
        parts = list(partitions)
        if not parts:
            return {}
        values = self._client.hmget(self.key, [self._field(tp) for tp in parts])
        return {tp: int(v) for tp, v in zip(parts, values) if v is not None}

    def save(self, offsets: Dict[TopicPartition, int]) -> None:
        if offsets:
            self._client.hset(self.key, mapping={self._field(tp): str(o) for tp, o in offsets.items()})


def connect(url: str, group_id: str, prefix: str) -> RedisCheckpoints:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
    return RedisCheckpoints(client, group_id, prefix)
