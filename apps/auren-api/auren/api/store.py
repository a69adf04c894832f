"""In-memory sample store: bounded per user, safe across uvicorn's worker threads.

The dashboard is a read model: durable history lives in TimescaleDB, written by
the biometric-bridge. This store keeps the recent window the dashboard needs.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Deque, Dict, Iterable, List

from .metrics import Sample


class SampleStore:
    def __init__(self, max_samples_per_user: int = 10_000) -> None:
        if max_samples_per_user < 1:
            raise ValueError("max_samples_per_user must be at least 1")
        self._max = max_samples_per_user
        self._by_user: Dict[str, Deque[Sample]] = {}
        self._lock = threading.Lock()

    def add(self, samples: Iterable[Sample]) -> int:
        count = 0
        with self._lock:
            for s in samples:
                bucket = self._by_user.get(s.user_id)
                if bucket is None:
                    # deque(maxlen) drops the oldest sample once a user is at the limit.
                    bucket = self._by_user[s.user_id] = deque(maxlen=self._max)
                bucket.append(s)
                count += 1
        return count

    def for_user(self, user_id: str) -> List[Sample]:
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def users(self) -> List[str]:
        with self._lock:
            return sorted(self._by_user)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._by_user.values())
