"""Entrypoint: `python3 -m biometric_bridge [--check-config]`, configured from the environment."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

from . import __version__
from .batch import BatchBuilder
from .config import ConfigError, load_config
from .health import make_server, serve_in_background
from .metrics import BridgeMetrics
from .service import Bridge

log = logging.getLogger("biometric_bridge")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = load_config(os.environ)
    except ConfigError as e:
        print(f"biometric-bridge: configuration error: {e}", file=sys.stderr)
        return 2
    if "--check-config" in argv:
        print(json.dumps(config.describe(), indent=2))
        return 0

    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if config.log_level != "DEBUG":
        # kafka-python logs every connection attempt at INFO; keep its warnings and errors.
        logging.getLogger("kafka").setLevel(logging.WARNING)
    log.info("biometric-bridge %s starting: %s", __version__, json.dumps(config.describe()))

    # Imported here so --check-config works without reaching any service.
    from .adapters import kafka_source, redis_checkpoints, timescale_sink

    metrics = BridgeMetrics()
    server = make_server(metrics, config.http_host, config.http_port)
    _, port = serve_in_background(server)
    log.info("health and metrics on %s:%d (/health, /metrics)", config.http_host, port)

    stop = threading.Event()

    def _stop(signum, _frame):
        log.info("received %s, flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        checkpoints = redis_checkpoints.connect(config.redis_url, config.kafka_group_id, config.checkpoint_key_prefix)
        sink = timescale_sink.connect(config.database_url)
        try:
            source = kafka_source.connect(config, stop)
        except kafka_source.Stopped:
            return 0
        bridge = Bridge(source, sink, checkpoints,
                        BatchBuilder(config.batch_max_size, config.batch_max_age_seconds), metrics)
        source.subscribe(config.kafka_topics, checkpoints, bridge.on_partitions_revoked)
        bridge.run(stop)
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
