"""Kafka source over kafka-python's KafkaConsumer.

Auto-commit is off: on every partition assignment the consumer seeks to the offsets
checkpointed in Redis, so Redis (written only after the database commit) decides where
reading resumes. Partitions without a checkpoint start at KAFKA_AUTO_OFFSET_RESET.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, Iterable, List, Optional

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import NoBrokersAvailable
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from ..batch import TopicPartition as TP
from ..config import Config
from ..pipeline import Message
from ..ports import Checkpoints

log = logging.getLogger("biometric_bridge.kafka")


def _offset_and_metadata(offset: int) -> OffsetAndMetadata:
    # kafka-python 2.0 (Debian bookworm) has (offset, metadata); 2.1+ adds leader_epoch.
    if len(OffsetAndMetadata._fields) == 3:
        return OffsetAndMetadata(offset, "", -1)
    return OffsetAndMetadata(offset, "")


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, consumer, checkpoints: Checkpoints, on_revoked: Callable[[Iterable[TP]], None]) -> None:
        self._consumer = consumer
        self._checkpoints = checkpoints
        self._on_revoked = on_revoked

    def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            self._on_revoked([(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned) -> None:
        stored = self._checkpoints.load([(tp.topic, tp.partition) for tp in assigned])
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
        log.info("assigned %s; resuming from checkpoints %s",
                 ",".join(f"{tp.topic}[{tp.partition}]" for tp in assigned) or "-",
                 {f"{t}[{p}]": o for (t, p), o in sorted(stored.items())})


class KafkaSource:
    def __init__(self, consumer) -> None:
        self._consumer = consumer

    def subscribe(self, topics: Iterable[str], checkpoints: Checkpoints,
                  on_revoked: Callable[[Iterable[TP]], None]) -> None:
        self._consumer.subscribe(topics=list(topics), listener=_Rebalance(self._consumer, checkpoints, on_revoked))

    def poll(self, timeout_seconds: float, max_records: int) -> List[Message]:
        polled = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000), max_records=max_records)
        out = [
            Message(r.topic, r.partition, r.offset, r.value)
            for records in polled.values()
            for r in records
        ]
        out.sort(key=lambda m: (m.topic, m.partition, m.offset))
        return out

    def commit(self, offsets: Dict[TP, int]) -> None:
        self._consumer.commit_async(
            offsets={TopicPartition(t, p): _offset_and_metadata(o) for (t, p), o in offsets.items()}
        )

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class Stopped(Exception):
    """Shutdown was requested while waiting for a broker."""


def connect(config: Config, stop: Optional[threading.Event] = None, max_backoff: float = 30.0,
            consumer_factory: Callable[..., object] = KafkaConsumer) -> KafkaSource:
    """Build the consumer, waiting for a broker: in a fresh stack Kafka often starts after us.

    /health reports 503 ("consumer loop has not started") meanwhile.
    """
    kwargs = dict(
        bootstrap_servers=list(config.kafka_bootstrap_servers),
        group_id=config.kafka_group_id,
        client_id="biometric-bridge",
        enable_auto_commit=False,
        auto_offset_reset=config.kafka_auto_offset_reset,
        max_poll_records=config.batch_max_size,
        security_protocol=config.kafka_security_protocol,
    )
    if config.kafka_sasl_mechanism:
        kwargs.update(
            sasl_mechanism=config.kafka_sasl_mechanism,
            sasl_plain_username=config.kafka_sasl_username,
            sasl_plain_password=config.kafka_sasl_password,
        )
    stop = stop or threading.Event()
    attempt = 0
    while True:
        try:
            return KafkaSource(consumer_factory(**kwargs))
        except NoBrokersAvailable:
            attempt += 1
            delay = min(max_backoff, float(2 ** (attempt - 1)))
            log.warning("no Kafka broker reachable at %s (attempt %d); retrying in %.0fs",
                        ",".join(config.kafka_bootstrap_servers), attempt, delay)
            if stop.wait(delay):
                raise Stopped() from None
