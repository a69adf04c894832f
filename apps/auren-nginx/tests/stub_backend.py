"""Stand-in backend for the live proxy test: answers every GET with what it received.

Usage: python3 stub_backend.py NAME PORTFILE  (binds 127.0.0.1 on a free port, writes it to PORTFILE)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, port_file = sys.argv[1], sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # so nginx's upstream keepalive is exercised

    def do_GET(self):
        body = json.dumps({
            "backend": name,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402

os.replace(port_file + ".tmp", port_file)
server.serve_forever()
