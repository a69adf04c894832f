import threading

import pytest

from biometric_bridge.batch import BatchBuilder
from biometric_bridge.pipeline import Message
from biometric_bridge.service import Bridge
from helpers import NOW, message

TOPIC = "biometric-events"


class FakeSource:
    def __init__(self, batches):
        self.batches = list(batches)
        self.commits = []
        self.closed = False

    def poll(self, timeout_seconds, max_records):
        if not self.batches:
            return []
        head, rest = self.batches[0][:max_records], self.batches[0][max_records:]
        if rest:
            self.batches[0] = rest
        else:
            self.batches.pop(0)
        return head

    def commit(self, offsets):
        self.commits.append(dict(offsets))

    def close(self):
        self.closed = True


class FakeSink:
    """Behaves like the table's unique index: a dedup key is inserted once."""

    def __init__(self, fail_times=0):
        self.keys = set()
        self.rows = []
        self.fail_times = fail_times
        self.closed = False

    def write(self, rows):
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("database is down")
        new = [r for r in rows if r.dedup_key not in self.keys]
        self.keys.update(r.dedup_key for r in new)
        self.rows.extend(new)
        return len(new)

    def close(self):
        self.closed = True


class FakeCheckpoints:
    def __init__(self):
        self.saved = {}
        self.history = []

    def load(self, partitions):
        return {tp: self.saved[tp] for tp in partitions if tp in self.saved}

    def save(self, offsets):
        self.saved.update(offsets)
        self.history.append(dict(offsets))


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def make(batches, sink=None, max_size=3, max_age=5.0):
    clock = Clock()
    src, snk, cps = FakeSource(batches), sink or FakeSink(), FakeCheckpoints()
    bridge = Bridge(src, snk, cps, BatchBuilder(max_size, max_age), wall_clock=lambda: NOW,
                    monotonic=clock, sleep=clock.sleep)
    return bridge, src, snk, cps, clock


def minute(i):
    return f"2024-05-01T11:{i:02d}:00Z"


def test_full_batch_is_written_then_checkpointed():
    msgs = [message(o, recorded_at=minute(o)) for o in range(3)]
    bridge, src, sink, cps, _ = make([msgs])
    bridge.step()
    assert len(sink.rows) == 3
    assert cps.saved == {(TOPIC, 0): 3}
    assert src.commits == [{(TOPIC, 0): 3}]
    assert bridge.metrics.inserted == 3 and bridge.metrics.flushes == 1


def test_rejected_messages_are_counted_and_their_offsets_committed():
    msgs = [
        message(0, recorded_at=minute(0)),
        Message(TOPIC, 0, 1, b"garbage"),
        message(2, value=900),
    ]
    bridge, _, sink, cps, clock = make([msgs], max_size=10, max_age=1.0)
    bridge.step()
    assert cps.saved == {}  # batch is neither full nor old yet
    clock.t = 2.0
    bridge.step()
    assert len(sink.rows) == 1
    assert cps.saved == {(TOPIC, 0): 3}
    assert bridge.metrics.rejected == {"invalid_json": 1, "implausible_value": 1}
    assert "bridge_messages_rejected_total{reason=\"invalid_json\"} 1" in bridge.metrics.render()


def test_failed_write_is_retried_with_backoff_and_no_checkpoint_in_between():
    msgs = [message(o, recorded_at=minute(o)) for o in range(3)]
    more = [message(o, recorded_at=minute(o)) for o in range(3, 6)]
    bridge, src, sink, cps, clock = make([msgs, more], sink=FakeSink(fail_times=2))
    bridge.step()  # write fails (1st)
    assert cps.saved == {} and bridge.metrics.flush_failures == 1
    bridge.step()  # waiting for backoff: no poll while a batch is pending
    assert len(src.batches) == 1
    clock.t = 10.0
    bridge.step()  # retry fails (2nd)
    clock.t = 20.0
    bridge.step()  # retry succeeds
    assert len(sink.rows) == 3 and cps.saved == {(TOPIC, 0): 3}
    bridge.step()  # now the next batch is read
    assert cps.saved == {(TOPIC, 0): 6}


def test_replay_after_crash_is_idempotent():
    msgs = [message(o, recorded_at=minute(o)) for o in range(3)]
    sink = FakeSink()
    first, *_ = make([msgs], sink=sink)
    first.step()
    # A restart that re-reads the same messages (e.g. checkpoint lost) inserts nothing new.
    again, *_ = make([msgs], sink=sink)
    again.step()
    assert len(sink.rows) == 3
    assert again.metrics.duplicates == 3 and again.metrics.inserted == 0


def test_revoke_flushes_then_forgets_lost_partitions():
    msgs = [message(0, partition=0, recorded_at=minute(0)), message(0, partition=1, recorded_at=minute(1))]
    bridge, _, sink, cps, _ = make([msgs], max_size=10)
    bridge.step()
    bridge.on_partitions_revoked([(TOPIC, 0)])
    assert len(sink.rows) == 2 and cps.saved == {(TOPIC, 0): 1, (TOPIC, 1): 1}
    assert bridge.batch.snapshot().empty


def test_revoke_with_failing_sink_drops_only_lost_partition():
    msgs = [message(0, partition=0, recorded_at=minute(0)), message(0, partition=1, recorded_at=minute(1))]
    bridge, _, sink, cps, _ = make([msgs], sink=FakeSink(fail_times=1), max_size=10)
    bridge.step()
    bridge.on_partitions_revoked([(TOPIC, 0)])
    assert cps.saved == {}
    assert list(bridge.batch.snapshot().offsets) == [(TOPIC, 1)]


def test_run_flushes_and_closes_on_stop():
    msgs = [message(0, recorded_at=minute(0))]
    bridge, src, sink, cps, _ = make([msgs], max_size=10, max_age=100)
    stop = threading.Event()
    calls = {"n": 0}
    real_step = bridge.step

    def step():
        real_step()
        calls["n"] += 1
        if calls["n"] == 2:
            stop.set()

    bridge.step = step
    bridge.run(stop)
    assert len(sink.rows) == 1 and cps.saved == {(TOPIC, 0): 1}
    assert src.closed and sink.closed


def test_health_reports_stalled_writes():
    bridge, _, _, _, clock = make([[message(o, recorded_at=minute(o)) for o in range(3)]],
                                  sink=FakeSink(fail_times=100))
    bridge.step()
    assert bridge.metrics.health(stall_after=60)["status"] == "ok"
    clock.t = 61.0
    bridge.metrics.heartbeat()
    report = bridge.metrics.health(stall_after=60)
    assert report["status"] == "unhealthy" and "writes failing" in report["problems"][0]
