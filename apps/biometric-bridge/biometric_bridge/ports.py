"""The interfaces the service loop needs; adapters implement them over real clients."""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Protocol, Sequence

from .batch import Row, TopicPartition
from .pipeline import Message


class Source(Protocol):
    def poll(self, timeout_seconds: float, max_records: int) -> List[Message]: ...

    def commit(self, offsets: Dict[TopicPartition, int]) -> None:
        """Best-effort commit to Kafka's group offsets, for lag monitoring only."""

    def close(self) -> None: ...


class Sink(Protocol):
    def write(self, rows: Sequence[Row]) -> int:
        """Insert rows, skipping existing dedup keys; returns the number inserted."""

    def close(self) -> None: ...


class Checkpoints(Protocol):
    def load(self, partitions: Iterable[TopicPartition]) -> Dict[TopicPartition, int]: ...

    def save(self, offsets: Dict[TopicPartition, int]) -> None: ...


RevokeHook = Callable[[Iterable[TopicPartition]], None]
