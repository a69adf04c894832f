"""The consumer loop: poll, process, batch, then write and checkpoint.

Delivery is at-least-once. A batch is written to TimescaleDB first and its offsets are
checkpointed in Redis only after the write commits; after a crash the bridge resumes from
the last checkpoint and re-reads at most one batch, which the database's unique dedup index
turns into no-ops. Redis holds the authoritative offsets; the Kafka group commit is
best-effort so the usual consumer-lag tooling keeps working.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional

from .batch import BatchBuilder, Position, TopicPartition
from .metrics import BridgeMetrics
from .pipeline import process
from .ports import Checkpoints, Sink, Source
from .schema import Rejection

log = logging.getLogger("biometric_bridge")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Bridge:
    def __init__(
        self,
        source: Source,
        sink: Sink,
        checkpoints: Checkpoints,
        batch: BatchBuilder,
        metrics: Optional[BridgeMetrics] = None,
        poll_timeout: float = 1.0,
        max_backoff: float = 30.0,
        wall_clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.sink = sink
        self.checkpoints = checkpoints
        self.batch = batch
        self.metrics = metrics or BridgeMetrics(monotonic)
        self.poll_timeout = poll_timeout
        self.max_backoff = max_backoff
        self._wall = wall_clock
        self._mono = monotonic
        self._sleep = sleep
        self._failures = 0
        self._retry_at: Optional[float] = None

    def step(self) -> None:
        self.metrics.heartbeat()
        if self._retry_at is not None:
            # A failed batch is retried before reading more, so memory stays bounded
            # by one batch while the database or Redis is down.
            wait = self._retry_at - self._mono()
            if wait > 0:
                self._sleep(min(wait, self.poll_timeout))
                return
            self.flush()
            return

        room = max(1, self.batch.max_size - len(self.batch))
        messages = self.source.poll(self.poll_timeout, room)
        now = self._wall()
        mono = self._mono()
        for m in messages:
            pos = Position(m.topic, m.partition, m.offset)
            outcome = process(m, now)
            if isinstance(outcome, Rejection):
                self.metrics.add(consumed=1)
                self.metrics.reject(outcome.reason)
                # The payload is health data: log where it is, never what it says.
                log.warning("rejected %s[%d]@%d: %s (%s)", m.topic, m.partition, m.offset, outcome.reason, outcome.detail)
                self.batch.skip(pos, mono)
            else:
                self.metrics.add(consumed=1, accepted=1)
                self.batch.add(outcome, pos, mono)
        if self.batch.ready(self._mono()):
            self.flush()

    def flush(self) -> bool:
        snap = self.batch.snapshot()
        if snap.empty:
            return True
        try:
            inserted = self.sink.write(snap.rows) if snap.rows else 0
            self.checkpoints.save(snap.offsets)
        except Exception as e:  # any adapter failure is retried; health turns 503 if it persists
            self._failures += 1
            backoff = min(self.max_backoff, 0.5 * 2 ** (self._failures - 1))
            self._retry_at = self._mono() + backoff
            self.metrics.flush_failed()
            log.error("writing %d rows failed (attempt %d, retry in %.1fs): %s: %s",
                      len(snap.rows), self._failures, backoff, type(e).__name__, e)
            return False
        self.batch.clear()
        self._failures = 0
        self._retry_at = None
        duplicates = snap.duplicates_in_batch + (len(snap.rows) - inserted)
        self.metrics.flush_ok(inserted, duplicates, time.time())
        log.info("flushed %d rows (%d new, %d duplicate); offsets %s",
                 len(snap.rows), inserted, duplicates, _fmt_offsets(snap.offsets))
        try:
            self.source.commit(snap.offsets)
        except Exception as e:
            log.warning("Kafka offset commit failed (Redis checkpoint is authoritative): %s", e)
        return True

    def on_partitions_revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Flush what we have before another consumer takes the partitions over."""
        lost = list(partitions)
        if not self.flush():
            log.warning("could not flush before losing %s; the next owner re-reads from the last checkpoint",
                        _fmt_partitions(lost))
        self.batch.drop_partitions(lost)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
        finally:
            if not self.flush():
                log.error("final flush failed; unflushed messages will be re-read from the last checkpoint")
            for closer in (self.source.close, self.sink.close):
                try:
                    closer()
                except Exception as e:
                    log.warning("closing failed: %s", e)


def _fmt_partitions(parts: Iterable[TopicPartition]) -> str:
    return ",".join(f"{t}[{p}]" for t, p in sorted(parts)) or "-"


def _fmt_offsets(offsets) -> str:
    return ",".join(f"{t}[{p}]={o}" for (t, p), o in sorted(offsets.items())) or "-"
