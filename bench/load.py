#!/usr/bin/env python3
"""A small closed-loop load generator for /probe endpoints (standard library only).

C worker threads each keep one HTTP/1.1 keep-alive connection (as Prometheus does) and send
GET requests back to back until M requests have been sent; request i asks for target
i mod len(targets). Every response is checked: HTTP 200, every --require regex found (multi-line
mode), no --forbid regex found. Prints one JSON object: requests, successes, failures by kind,
elapsed seconds, requests per second, latency percentiles (ms), the mean response size, and
the generator's own CPU.

Only loopback URLs are accepted: the benchmark never sends a request anywhere else.
"""
import argparse
import http.client
import json
import math
import os
import re
import sys
import threading
import time
import urllib.parse


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


class Worker(threading.Thread):
    def __init__(self, gen):
        super().__init__(daemon=True)
        self.gen = gen
        self.conn = None

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection(self.gen.host, self.gen.port,
                                               timeout=self.gen.http_timeout)

    def fetch(self, path):
        """One GET; retries once on a kept-alive connection the server had already closed."""
        for attempt in (0, 1):
            if self.conn is None:
                self.connect()
            fresh = self.conn.sock is None
            try:
                self.conn.request("GET", path, headers=self.gen.headers)
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.conn.close()
                return resp.status, body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if fresh or attempt == 1:
                    raise

    def run(self):
        gen = self.gen
        while True:
            i = gen.next_index()
            if i is None:
                break
            path = gen.path_template.replace("{target}",
                                             urllib.parse.quote(gen.targets[i % len(gen.targets)],
                                                                safe=":[]"))
            start = time.perf_counter()
            kind = "ok"
            body = b""
            try:
                status, body = self.fetch(path)
                if status != 200:
                    kind = "http_%d" % status
                else:
                    text = body.decode("utf-8", "replace")
                    if any(not r.search(text) for r in gen.require):
                        kind = "check_failed"
                    elif any(r.search(text) for r in gen.forbid):
                        kind = "check_failed"
            except Exception as e:  # noqa: BLE001 - any transport error is a failed request
                kind = "error_" + type(e).__name__
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            elapsed = time.perf_counter() - start
            gen.record(elapsed, kind, path, body)


class Generator:
    def __init__(self, args):
        url = urllib.parse.urlsplit(args.url)
        if url.scheme != "http" or url.hostname not in ("127.0.0.1", "::1", "localhost"):
            sys.exit("load.py: only http://127.0.0.1, http://[::1] or http://localhost URLs")
        self.host = url.hostname
        self.port = url.port or 80
        self.path_template = url.path + ("?" + url.query if url.query else "")
        with open(args.targets) as f:
            self.targets = [line.strip() for line in f if line.strip()]
        if not self.targets:
            sys.exit("load.py: no targets in " + args.targets)
        self.headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(args.scrape_timeout)}
        self.http_timeout = args.scrape_timeout + 5
        self.require = [re.compile(r, re.M) for r in args.require]
        self.forbid = [re.compile(r, re.M) for r in args.forbid]
        self.total = args.requests
        self.failure_sample = args.failure_sample
        self.lock = threading.Lock()
        self.issued = 0
        self.latencies = []
        self.kinds = {}
        self.body_bytes = 0
        self.sampled_failure = False

    def next_index(self):
        with self.lock:
            if self.issued >= self.total:
                return None
            self.issued += 1
            return self.issued - 1

    def record(self, elapsed, kind, path, body):
        with self.lock:
            self.latencies.append(elapsed)
            self.body_bytes += len(body)
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            if kind != "ok" and self.failure_sample and not self.sampled_failure:
                self.sampled_failure = True
                with open(self.failure_sample, "wb") as f:
                    f.write(("# %s %s\n" % (kind, path)).encode() + body)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True,
                   help="URL template, {target} is replaced, e.g. "
                        "http://127.0.0.1:10465/probe?target={target}")
    p.add_argument("--targets", required=True, help="file with one target per line")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--scrape-timeout", type=float, default=10.0,
                   help="X-Prometheus-Scrape-Timeout-Seconds sent with every request")
    p.add_argument("--require", action="append", default=[],
                   help="regex every response body must contain (repeatable)")
    p.add_argument("--forbid", action="append", default=[],
                   help="regex no response body may contain (repeatable)")
    p.add_argument("--failure-sample", help="write the first failed response here")
    args = p.parse_args()

    gen = Generator(args)
    workers = [Worker(gen) for _ in range(max(1, min(args.concurrency, args.requests)))]
    cpu0 = os.times()
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    cpu1 = os.times()

    lat = sorted(gen.latencies)
    ok = gen.kinds.get("ok", 0)
    result = {
        "requests": len(lat),
        "concurrency": len(workers),
        "successes": ok,
        "success_ratio": ok / len(lat) if lat else 0.0,
        "failures": {k: v for k, v in gen.kinds.items() if k != "ok"},
        "elapsed_s": elapsed,
        "rate_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "latency_ms": {
            "mean": 1000 * sum(lat) / len(lat) if lat else float("nan"),
            "p50": 1000 * percentile(lat, 50),
            "p95": 1000 * percentile(lat, 95),
            "p99": 1000 * percentile(lat, 99),
            "max": 1000 * lat[-1] if lat else float("nan"),
        },
        "mean_body_bytes": gen.body_bytes / len(lat) if lat else 0.0,
        "loadgen_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
