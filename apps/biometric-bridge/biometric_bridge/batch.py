"""Batch building with offset tracking.

A batch holds the readings to insert and, per topic-partition, the next offset to resume
from once the batch is durably written. Rejected messages advance offsets too: a poison
message must not be re-read forever (it is counted and logged instead).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .dedup import dedup_key
from .normalize import Reading

TopicPartition = Tuple[str, int]


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Row:
    reading: Reading
    dedup_key: str
    position: Position


@dataclass(frozen=True)
class Batch:
    rows: Tuple[Row, ...]
    # next offset to consume per partition (last processed offset + 1, Kafka's convention)
    offsets: Dict[TopicPartition, int]
    duplicates_in_batch: int

    @property
    def empty(self) -> bool:
        return not self.rows and not self.offsets


@dataclass
class BatchBuilder:
    max_size: int = 500
    max_age_seconds: float = 2.0
    _rows: Dict[str, Row] = field(default_factory=dict)
    _offsets: Dict[TopicPartition, int] = field(default_factory=dict)
    _duplicates: int = 0
    _opened_at: Optional[float] = None

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError("max_size must be at least 1")
        if self.max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be positive")

    def _advance(self, pos: Position, now: float) -> None:
        if self._opened_at is None:
            self._opened_at = now
        tp = (pos.topic, pos.partition)
        self._offsets[tp] = max(self._offsets.get(tp, 0), pos.offset + 1)

    def add(self, reading: Reading, pos: Position, now: float) -> bool:
        """Add a reading; False when the batch already holds the same reading."""
        self._advance(pos, now)
        key = dedup_key(reading)
        if key in self._rows:
            self._duplicates += 1
            return False
        self._rows[key] = Row(reading, key, pos)
        return True

    def skip(self, pos: Position, now: float) -> None:
        """Record a message that produced no row (rejected), so its offset is committed."""
        self._advance(pos, now)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def pending(self) -> bool:
        return bool(self._offsets)

    def ready(self, now: float) -> bool:
        if not self.pending:
            return False
        if len(self._rows) >= self.max_size:
            return True
        return self._opened_at is not None and now - self._opened_at >= self.max_age_seconds

    def snapshot(self) -> Batch:
        return Batch(tuple(self._rows.values()), dict(self._offsets), self._duplicates)

    def clear(self) -> None:
        self._rows.clear()
        self._offsets.clear()
        self._duplicates = 0
        self._opened_at = None

    def drop_partitions(self, partitions) -> None:
        """Forget work for partitions this consumer no longer owns (after a rebalance)."""
        lost = set(partitions)
        for tp in lost:
            self._offsets.pop(tp, None)
        for key in [k for k, r in self._rows.items() if (r.position.topic, r.position.partition) in lost]:
            del self._rows[key]
        if not self._offsets:
            self.clear()
