"""Process counters and liveness, rendered in the Prometheus text format (0.0.4)."""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Optional


class BridgeMetrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.consumed = 0
        self.accepted = 0
        self.duplicates = 0
        self.inserted = 0
        self.flushes = 0
        self.flush_failures = 0
        self.rejected: Dict[str, int] = {}
        self._last_loop: Optional[float] = None
        self._failing_since: Optional[float] = None
        self._last_checkpoint_unix: Optional[float] = None

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def heartbeat(self) -> None:
        with self._lock:
            self._last_loop = self._clock()

    def flush_ok(self, inserted: int, duplicates: int, wall_time: float) -> None:
        with self._lock:
            self.flushes += 1
            self.inserted += inserted
            self.duplicates += duplicates
            self._failing_since = None
            self._last_checkpoint_unix = wall_time

    def flush_failed(self) -> None:
        with self._lock:
            self.flush_failures += 1
            if self._failing_since is None:
                self._failing_since = self._clock()

    def health(self, stall_after: float = 60.0) -> Dict[str, object]:
        """Healthy while the poll loop runs and writes have not been failing for too long."""
        with self._lock:
            now = self._clock()
            problems = []
            if self._last_loop is None:
                problems.append("consumer loop has not started")
            elif now - self._last_loop > stall_after:
                problems.append(f"consumer loop stalled for {now - self._last_loop:.0f}s")
            if self._failing_since is not None and now - self._failing_since > stall_after:
                problems.append(f"writes failing for {now - self._failing_since:.0f}s")
            return {"status": "ok" if not problems else "unhealthy", "problems": problems}

    def render(self) -> str:
        with self._lock:
            lines = []

            def counter(name: str, help_: str, value: float, labels: str = "") -> None:
                if not labels:
                    lines.append(f"# HELP {name} {help_}")
                    lines.append(f"# TYPE {name} counter")
                lines.append(f"{name}{labels} {value}")

            counter("bridge_messages_consumed_total", "Kafka messages read.", self.consumed)
            counter("bridge_readings_accepted_total", "Readings that passed validation.", self.accepted)
            counter("bridge_readings_inserted_total", "Rows inserted into TimescaleDB.", self.inserted)
            counter("bridge_readings_duplicate_total", "Readings dropped as duplicates.", self.duplicates)
            counter("bridge_flushes_total", "Batches written and checkpointed.", self.flushes)
            counter("bridge_flush_failures_total", "Batch writes or checkpoints that failed.", self.flush_failures)
            lines.append("# HELP bridge_messages_rejected_total Messages rejected, by reason.")
            lines.append("# TYPE bridge_messages_rejected_total counter")
            for reason in sorted(self.rejected):
                lines.append(f'bridge_messages_rejected_total{{reason="{reason}"}} {self.rejected[reason]}')
            lines.append("# HELP bridge_last_checkpoint_timestamp_seconds Unix time of the last checkpoint.")
            lines.append("# TYPE bridge_last_checkpoint_timestamp_seconds gauge")
            lines.append(f"bridge_last_checkpoint_timestamp_seconds {self._last_checkpoint_unix or 0}")
            return "\n".join(lines) + "\n"
