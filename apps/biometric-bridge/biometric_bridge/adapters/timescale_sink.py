"""TimescaleDB sink over psycopg2.

Rows are inserted with one multi-row INSERT per page; `ON CONFLICT DO NOTHING` on the
dedup key makes re-delivered readings no-ops. TimescaleDB requires every unique index on a
hypertable to include the time column, hence UNIQUE (dedup_key, recorded_at)
(https://docs.timescale.com/use-timescale/latest/hypertables/hypertables-and-unique-indexes/).
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

import psycopg2
from psycopg2.extras import execute_values

from ..batch import Row

log = logging.getLogger("biometric_bridge.timescale")

TABLE = "biometric_readings"

SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        recorded_at      timestamptz      NOT NULL,
        user_id          text             NOT NULL,
        device_id        text             NOT NULL,
        metric           text             NOT NULL,
        value            double precision NOT NULL,
        unit             text             NOT NULL,
        dedup_key        text             NOT NULL,
        event_id         text,
        source_topic     text             NOT NULL,
        source_partition integer          NOT NULL,
        source_offset    bigint           NOT NULL,
        ingested_at      timestamptz      NOT NULL DEFAULT now(),
        UNIQUE (dedup_key, recorded_at)
    )""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_user_metric_time ON {TABLE} (user_id, metric, recorded_at DESC)",
)

INSERT = (
    f"INSERT INTO {TABLE} (recorded_at, user_id, device_id, metric, value, unit, dedup_key, event_id,"
    " source_topic, source_partition, source_offset) VALUES %s"
    " ON CONFLICT (dedup_key, recorded_at) DO NOTHING RETURNING 1"
)

PAGE_SIZE = 500


def row_values(row: Row) -> tuple:
    r = row.reading
    return (r.recorded_at, r.user_id, r.device_id, r.metric, r.value, r.unit, row.dedup_key,
            r.event_id, row.position.topic, row.position.partition, row.position.offset)


class TimescaleSink:
    def __init__(self, connect: Callable[[], "psycopg2.extensions.connection"]) -> None:
        self._connect = connect
        self._conn = None

    def _connection(self):
        if self._conn is None or self._conn.closed:
            conn = self._connect()
            ensure_schema(conn)
            self._conn = conn
        return self._conn

    def write(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        conn = self._connection()
        try:
            with conn:  # commits on success, rolls back on error
                with conn.cursor() as cur:
                    inserted = execute_values(cur, INSERT, [row_values(r) for r in rows],
                                              page_size=PAGE_SIZE, fetch=True)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # The connection is unusable (server restart, network): reconnect on the next attempt.
            self.close()
            raise
        return len(inserted)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def ensure_schema(conn) -> None:
    with conn:
        with conn.cursor() as cur:
            for statement in SCHEMA:
                cur.execute(statement)
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
            if cur.fetchone():
                cur.execute(f"SELECT create_hypertable('{TABLE}', 'recorded_at', if_not_exists => TRUE)")
            else:
                # CREATE EXTENSION needs a superuser: a provisioning step, not the bridge's job.
                log.warning("timescaledb extension is not installed; %s stays a plain PostgreSQL table", TABLE)


def connect(database_url: str) -> TimescaleSink:
    return TimescaleSink(lambda: psycopg2.connect(database_url, connect_timeout=10,
                                                  application_name="biometric-bridge"))
