#!/usr/bin/env python3
"""A tiny Alertmanager webhook receiver for tests/e2e/run.sh.

    webhook_capture.py DIR

Listens on 127.0.0.1 on a free port (chosen by the kernel) and writes that port to DIR/port
once it accepts connections. Every POST to /<receiver> must carry a JSON body (the
Alertmanager webhook payload); it is stored as DIR/<receiver>-<n>.json (n counts from 1 per
server, written to a temporary name and renamed, so a reader never sees half a file) and
answered 200. A body that is not JSON is answered 400 and stored nowhere. GET / answers 200
(a liveness check). Stops on SIGTERM/SIGINT.
"""
import http.server
import json
import os
import re
import signal
import sys
import threading

MAX_BODY = 4 << 20


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: webhook_capture.py DIR")
    out = sys.argv[1]
    lock = threading.Lock()
    seq = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, code, text):
            body = (text + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, "webhook capture")

        def do_POST(self):
            name = self.path.strip("/").split("?", 1)[0]
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                self.reply(404, "path must be /<receiver>")
                return
            try:
                length = int(self.headers.get("Content-Length") or "-1")
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self.reply(411, "Content-Length required (at most 4 MiB)")
                return
            body = self.rfile.read(length)
            try:
                json.loads(body)
            except ValueError as e:
                self.reply(400, f"not JSON: {e}")
                return
            with lock:
                seq[0] += 1
                n = seq[0]
            tmp = os.path.join(out, f".{name}-{n}.tmp")
            with open(tmp, "wb") as f:
                f.write(body)
            os.rename(tmp, os.path.join(out, f"{name}-{n}.json"))
            self.log_message("stored %s-%d.json (%d bytes)", name, n, len(body))
            self.reply(200, "stored")

        def log_message(self, fmt, *args):
            sys.stderr.write("webhook_capture: " + (fmt % args) + "\n")
            sys.stderr.flush()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    port_file = os.path.join(out, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
