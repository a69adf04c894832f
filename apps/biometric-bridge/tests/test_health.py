import json
import urllib.error
import urllib.request

import pytest

from biometric_bridge.health import make_server, serve_in_background
from biometric_bridge.metrics import BridgeMetrics


@pytest.fixture
def served():
    clock = {"t": 0.0}
    metrics = BridgeMetrics(clock=lambda: clock["t"])
    server = make_server(metrics, "127.0.0.1", 0, stall_after=30)
    _, port = serve_in_background(server)
    yield metrics, clock, f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_health_follows_the_loop(served):
    metrics, clock, base = served
    code, _, body = get(base + "/health")
    assert code == 503 and "not started" in body
    metrics.heartbeat()
    code, ctype, body = get(base + "/health")
    assert code == 200 and ctype == "application/json" and json.loads(body)["status"] == "ok"
    clock["t"] = 31.0
    code, _, body = get(base + "/health")
    assert code == 503 and "stalled" in body


def test_metrics_are_prometheus_text(served):
    metrics, _, base = served
    metrics.add(consumed=5, accepted=4)
    metrics.reject("invalid_json")
    metrics.flush_ok(inserted=3, duplicates=1, wall_time=1714557600.0)
    code, ctype, body = get(base + "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    lines = body.splitlines()
    for expected in (
        "bridge_messages_consumed_total 5",
        "bridge_readings_accepted_total 4",
        "bridge_readings_inserted_total 3",
        "bridge_readings_duplicate_total 1",
        'bridge_messages_rejected_total{reason="invalid_json"} 1',
        "bridge_last_checkpoint_timestamp_seconds 1714557600.0",
    ):
        assert expected in lines
    assert "# TYPE bridge_flushes_total counter" in lines


def test_unknown_path_is_404(served):
    _, _, base = served
    assert get(base + "/nope")[0] == 404
