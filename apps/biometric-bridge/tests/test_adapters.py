"""Adapters against fakes of the *client objects* (KafkaConsumer, psycopg2 connection, Redis).

The real client libraries are imported (the adapters use their types and helpers, such as
psycopg2's execute_values); only the network side is faked.
"""
from collections import namedtuple

import psycopg2
import pytest
from kafka import TopicPartition

from biometric_bridge.adapters.kafka_source import KafkaSource
from biometric_bridge.adapters.redis_checkpoints import RedisCheckpoints
from biometric_bridge.adapters.timescale_sink import TimescaleSink, row_values
from biometric_bridge.batch import BatchBuilder, Position
from biometric_bridge.normalize import normalise
from biometric_bridge.schema import parse_event
from helpers import NOW, event

Record = namedtuple("Record", "topic partition offset value")


class FakeConsumer:
    def __init__(self, polled):
        self.polled = polled
        self.seeks = []
        self.commits = []
        self.listener = None
        self.topics = None
        self.closed_with = None

    def subscribe(self, topics, listener):
        self.topics, self.listener = topics, listener

    def poll(self, timeout_ms, max_records):
        self.poll_args = (timeout_ms, max_records)
        return self.polled

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def commit_async(self, offsets):
        self.commits.append(offsets)

    def close(self, autocommit):
        self.closed_with = autocommit


class FakeRedis:
    def __init__(self):
        self.hashes = {}

    def hmget(self, key, fields):
        h = self.hashes.get(key, {})
        return [h[f].encode() if f in h else None for f in fields]

    def hset(self, key, mapping):
        self.hashes.setdefault(key, {}).update(mapping)


def test_redis_checkpoints_roundtrip():
    client = FakeRedis()
    cps = RedisCheckpoints(client, "group-a", prefix="bb:offsets")
    assert cps.load([("t", 0)]) == {} and cps.load([]) == {}
    cps.save({("t", 0): 42, ("t", 3): 7})
    assert client.hashes == {"bb:offsets:group-a": {"t:0": "42", "t:3": "7"}}
    assert cps.load([("t", 0), ("t", 1), ("t", 3)]) == {("t", 0): 42, ("t", 3): 7}


def test_kafka_source_flattens_sorts_and_commits():
    polled = {
        TopicPartition("t", 1): [Record("t", 1, 5, b"b")],
        TopicPartition("t", 0): [Record("t", 0, 9, b"a2"), Record("t", 0, 8, b"a1")],
    }
    consumer = FakeConsumer(polled)
    src = KafkaSource(consumer)
    msgs = src.poll(0.5, 100)
    assert consumer.poll_args == (500, 100)
    assert [(m.partition, m.offset, m.value) for m in msgs] == [(0, 8, b"a1"), (0, 9, b"a2"), (1, 5, b"b")]
    src.commit({("t", 0): 10})
    [(tp, oam)] = consumer.commits[0].items()
    assert tp == TopicPartition("t", 0) and oam.offset == 10
    src.close()
    assert consumer.closed_with is False  # never let kafka-python auto-commit past the checkpoint


def test_kafka_assignment_seeks_to_redis_checkpoints_and_revoke_calls_back():
    consumer = FakeConsumer({})
    cps = RedisCheckpoints(FakeRedis(), "g")
    cps.save({("t", 0): 42})
    revoked = []
    KafkaSource(consumer).subscribe(["t"], cps, revoked.extend)
    assert consumer.topics == ["t"]
    consumer.listener.on_partitions_assigned([TopicPartition("t", 0), TopicPartition("t", 1)])
    assert consumer.seeks == [(TopicPartition("t", 0), 42)]  # partition 1 falls back to auto_offset_reset
    consumer.listener.on_partitions_revoked([TopicPartition("t", 1)])
    assert revoked == [("t", 1)]


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.connection = conn  # execute_values reads cursor.connection.encoding
        self._pending = []
        self._result = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def mogrify(self, template, args):
        self._pending.append(args)
        return repr(args).encode()

    def execute(self, sql, args=None):
        text = sql.decode() if isinstance(sql, bytes) else sql
        self.conn.statements.append(text)
        if self.conn.fail_with:
            raise self.conn.fail_with
        if text.startswith("INSERT"):
            # Emulate ON CONFLICT (dedup_key, recorded_at) DO NOTHING RETURNING 1.
            new = []
            for row in self._pending:
                key = (row[6], row[0])
                if key not in self.conn.keys:
                    self.conn.keys.add(key)
                    new.append((1,))
            self._pending = []
            self._result = new
        elif "pg_extension" in text:
            self._result = [(1,)] if self.conn.timescale else []

    def fetchall(self):
        return self._result

    def fetchone(self):
        return self._result[0] if self._result else None


class FakeConnection:
    encoding = "UTF8"

    def __init__(self, timescale=True):
        self.statements = []
        self.keys = set()
        self.timescale = timescale
        self.closed = 0
        self.commits = 0
        self.rollbacks = 0
        self.fail_with = None

    def cursor(self):
        return FakeCursor(self)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type:
            self.rollbacks += 1
        else:
            self.commits += 1
        return False

    def close(self):
        self.closed = 1


def rows(n):
    b = BatchBuilder(max_size=100)
    for i in range(n):
        r = normalise(parse_event(event(recorded_at=f"2024-05-01T11:{i:02d}:00Z")), NOW)
        b.add(r, Position("t", 0, i), now=0.0)
    return b.snapshot().rows


def test_sink_creates_schema_once_and_inserts_idempotently():
    conns = []

    def connect():
        conns.append(FakeConnection())
        return conns[-1]

    sink = TimescaleSink(connect)
    batch = rows(3)
    assert sink.write(batch) == 3
    assert sink.write(batch) == 0  # replay: nothing new
    assert len(conns) == 1
    ddl = "\n".join(conns[0].statements)
    assert "CREATE TABLE IF NOT EXISTS biometric_readings" in ddl
    assert "UNIQUE (dedup_key, recorded_at)" in ddl
    assert "create_hypertable('biometric_readings', 'recorded_at', if_not_exists => TRUE)" in ddl
    inserts = [s for s in conns[0].statements if s.startswith("INSERT")]
    assert len(inserts) == 2 and "ON CONFLICT (dedup_key, recorded_at) DO NOTHING" in inserts[0]


def test_sink_without_timescaledb_keeps_a_plain_table(caplog):
    conn = FakeConnection(timescale=False)
    TimescaleSink(lambda: conn).write(rows(1))
    assert not any("create_hypertable" in s for s in conn.statements)
    assert "timescaledb extension is not installed" in caplog.text


def test_sink_reconnects_after_connection_loss():
    conns = []

    def connect():
        conns.append(FakeConnection())
        return conns[-1]

    sink = TimescaleSink(connect)
    sink.write(rows(1))
    conns[0].fail_with = psycopg2.OperationalError("server closed the connection unexpectedly")
    with pytest.raises(psycopg2.OperationalError):
        sink.write(rows(2))
    assert conns[0].closed and conns[0].rollbacks == 1
    assert sink.write(rows(2)) == 2  # fresh connection, schema ensured again
    assert len(conns) == 2


def test_row_values_match_insert_columns():
    [row] = rows(1)
    values = row_values(row)
    assert values[0] == row.reading.recorded_at and values[6] == row.dedup_key
    assert values[8:] == ("t", 0, 0)


def test_connect_waits_for_a_broker_and_honours_stop():
    import threading

    from kafka.errors import NoBrokersAvailable

    from biometric_bridge.adapters import kafka_source
    from biometric_bridge.config import load_config

    config = load_config({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "DATABASE_URL": "postgresql://db/x",
                          "REDIS_URL": "redis://r", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                          "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"})
    calls = []

    def factory(**kwargs):
        calls.append(kwargs)
        if len(calls) < 3:
            raise NoBrokersAvailable()
        return FakeConsumer({})

    source = kafka_source.connect(config, threading.Event(), max_backoff=0.01, consumer_factory=factory)
    assert isinstance(source, KafkaSource) and len(calls) == 3
    assert calls[0]["enable_auto_commit"] is False
    assert calls[0]["bootstrap_servers"] == ["kafka:9092"] and calls[0]["sasl_plain_password"] == "p"

    stop = threading.Event()
    stop.set()

    def never(**kwargs):
        raise NoBrokersAvailable()

    with pytest.raises(kafka_source.Stopped):
        kafka_source.connect(config, stop, consumer_factory=never)
