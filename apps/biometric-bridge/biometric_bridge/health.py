"""Tiny HTTP endpoint on BRIDGE_HTTP_PORT (default 8001): GET /health and GET /metrics.

The bridge is a consumer, not a web service; this port exists so auren-nginx, container
orchestrators and Prometheus can see whether it is alive and how far it got. Standard
library only: it must not pull a web framework into the image.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Tuple

from .metrics import BridgeMetrics


def make_server(metrics: BridgeMetrics, host: str, port: int, stall_after: float = 60.0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "biometric-bridge"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            path = self.path.split("?", 1)[0]
            if path == "/health":
                report = metrics.health(stall_after)
                self._send(200 if report["status"] == "ok" else 503, "application/json", json.dumps(report))
            elif path == "/metrics":
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
            else:
                self._send(404, "application/json", json.dumps({"detail": "not found"}))

        def _send(self, code: int, ctype: str, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args) -> None:
            # Probes hit these paths every few seconds; access logs would drown real events.
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_background(server: ThreadingHTTPServer) -> Tuple[threading.Thread, int]:
    thread = threading.Thread(target=server.serve_forever, name="health-http", daemon=True)
    thread.start()
    return thread, server.server_address[1]
