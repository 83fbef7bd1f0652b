"""A stand-in target process: keeps a read transaction open on a SQLite file and answers HTTP.

`python reading_target.py <db> <port>`: like the real target, it holds locks on the database files
that kill-blocking-queries must leave alone.
"""

import http.server
import sqlite3
import sys

connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN")
connection.execute("SELECT count(*) FROM orders").fetchone()


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "healthy", "release": "2026.11.3", "checks": {}}')

    def log_message(self, *args: object) -> None:
        return


http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Health).serve_forever()
