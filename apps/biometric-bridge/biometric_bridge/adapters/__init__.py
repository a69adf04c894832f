"""Thin I/O adapters over kafka-python, psycopg2 and redis-py (Debian python3-* packages).

Each takes an already-built client object so tests can pass a fake client; the `connect`
functions are the only places that open network connections.
"""
