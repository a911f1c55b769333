#!/usr/bin/env python3
"""A local stand-in for the notification destinations, for trying the plugins.

    python3 examples/receiver.py [--port 18999]

Listens on 127.0.0.1 only and answers like the real services, so that the
host's deliveries succeed: Jira (`POST /rest/api/3/issue`: 201 with a new key
such as SEC-1), ServiceNow (`POST /api/now/table/incident`: 201 with a number),
Slack incoming webhooks (`/services/...`: 200 `ok`) and any other JSON webhook
(200 `{}`). Each request is printed on one line: method, path, the destination
kind and the body's size and title or summary. Authorization and signature
headers are never printed.
"""

import argparse
import itertools
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTER = itertools.count(1)


def describe(body):
    """A short description of a JSON body: its title, summary or text."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"{len(body)} bytes"
    if not isinstance(doc, dict):
        return f"{len(body)} bytes"
    fields = doc.get("fields") if isinstance(doc.get("fields"), dict) else doc
    for key in ("summary", "short_description", "title", "text"):
        value = fields.get(key)
        if isinstance(value, str) and value:
            return f"{len(body)} bytes, {key}: {value.splitlines()[0][:100]}"
    return f"{len(body)} bytes"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        n = next(COUNTER)
        if self.path.startswith("/rest/api/3/issue"):
            project = "SEC"
            try:
                project = json.loads(body)["fields"]["project"]["key"]
            except (ValueError, KeyError, TypeError):
                pass
            kind, status = "jira", 201
            answer = {"id": str(10000 + n), "key": f"{project}-{n}",
                      "self": f"http://127.0.0.1:{self.server.server_port}/rest/api/3/issue/{10000 + n}"}
        elif self.path.startswith("/api/now/table/"):
            kind, status = "servicenow", 201
            answer = {"result": {"sys_id": f"{n:032x}", "number": f"INC{n:07d}"}}
        elif self.path.startswith("/services/"):
            kind, status, answer = "slack", 200, None
        else:
            kind, status, answer = "webhook", 200, {}
        print(f"{self.command} {self.path} ({kind}): {describe(body)}", flush=True)
        payload = b"ok" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if answer is None else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_):
        pass  # one line per request is printed by do_POST


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18999)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    print(f"receiving on http://127.0.0.1:{args.port} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
