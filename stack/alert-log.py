#!/usr/bin/env python3
"""The local stack's alert receiver: Alertmanager's webhook posts notifications here, and each alert
in them becomes one JSON line of the log file (what fired or resolved, when, with its labels and
annotations). `make alerts` prints the file; tests read it.

    alert-log.py --port 9097 --file STATE/alert-log/alerts.ndjson

POST /alerts   an Alertmanager webhook notification (version 4)
GET  /ready    200 once listening
"""

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def lines_of(notification: dict, received_at: str) -> list[str]:
    return [
        json.dumps(
            {
                "received_at": received_at,
                "status": alert.get("status"),
                "alertname": alert.get("labels", {}).get("alertname"),
                "labels": alert.get("labels", {}),
                "annotations": alert.get("annotations", {}),
                "starts_at": alert.get("startsAt"),
                "ends_at": alert.get("endsAt"),
                "fingerprint": alert.get("fingerprint"),
            },
            sort_keys=True,
        )
        for alert in notification.get("alerts", [])
    ]


def handler_for(path: str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ready" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self.send_response(404)
                self.end_headers()
                return
            try:
                length = int(self.headers.get("content-length", "0"))
                notification = json.loads(self.rfile.read(length))
            except ValueError as error:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(f"not an Alertmanager notification: {error}\n".encode())
                return
            received_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            with LOCK, open(path, "a", encoding="utf-8") as log:
                for line in lines_of(notification, received_at):
                    log.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write("alert-log: " + (format % args) + "\n")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True, help="the NDJSON file alerts are appended to")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(args.file))
    server.serve_forever()


if __name__ == "__main__":
    main()
