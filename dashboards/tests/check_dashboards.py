#!/usr/bin/env python3
"""Checks the Grafana dashboards in dashboards/ without a Grafana server.

Structure (always): classic JSON model, stable uid, id null, a `datasource` template variable of
type prometheus used by every panel and target (no hard-coded data source), job and instance
variables with multi-select, a description on every panel, no duplicate panel ids, every
target has an expression.

Expressions (with --prometheus URL): every panel and variable query is evaluated against a
real Prometheus that scraped mxtls_exporter; a query that errors fails the check, and with
--require-data every panel query must also return data.
"""
import argparse
import glob
import json
import re
import os
import sys
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARDS = sorted(glob.glob(os.path.join(HERE, "..", "*.json")))


def fail(errors, where, message):
    errors.append(f"{where}: {message}")


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_structure(path, d, errors):
    name = os.path.basename(path)
    if not d.get("uid"):
        fail(errors, name, "no stable uid")
    if d.get("id") is not None:
        fail(errors, name, "id must be null so that imports do not clash")
    if "__inputs" in d:
        fail(errors, name, "__inputs only work with UI import; use the datasource variable")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail(errors, name, "needs a `datasource` variable of type datasource/prometheus")
    for var in ("job", "instance"):
        v = variables.get(var)
        if not v:
            fail(errors, name, f"needs a `{var}` variable")
            continue
        if not v.get("multi") or not v.get("includeAll"):
            fail(errors, name, f"variable `{var}` must allow multi-select and All")
    ids = set()
    for p in all_panels(d.get("panels", [])):
        where = f"{name}: panel {p.get('id')} \"{p.get('title')}\""
        if p.get("id") in ids:
            fail(errors, where, "duplicate panel id")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        if not p.get("description"):
            fail(errors, where, "no description")
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            fail(errors, where, "panel data source must be ${datasource}")
        targets = p.get("targets") or []
        if not targets:
            fail(errors, where, "no targets")
        for t in targets:
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                fail(errors, where, "target data source must be ${datasource}")
            if not t.get("expr"):
                fail(errors, where, "target without expr")
        if "gridPos" not in p:
            fail(errors, where, "no gridPos")


def substitute(expr):
    # The values Grafana would put in for "All" and for its built-in intervals.
    for var, value in (("$job", ".*"), ("$instance", ".*"), ("$__rate_interval", "5m"),
                       ("$__interval", "1m"), ("$__range", "1h")):
        expr = expr.replace(var, value)
    return expr


def query(prometheus, expr):
    url = prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    return body


def check_queries(path, d, prometheus, require_data, errors, require_data_for=None):
    name = os.path.basename(path)
    exprs = []
    for p in all_panels(d.get("panels", [])):
        # With --require-data-for, only the panels it names must have data.
        wanted = (re.search(require_data_for, p.get("title") or "") is not None
                  if require_data_for else True)
        for t in p.get("targets") or []:
            exprs.append((f"panel \"{p.get('title')}\" {t.get('refId')}", t["expr"], wanted))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            # label_values(metric, label) -> the metric selector must return data
            if q.startswith("label_values("):
                q = q[len("label_values("):q.rindex(",")]
            exprs.append((f"variable {v['name']}", q, True))
    for where, expr, must_have_data in exprs:
        body = query(prometheus, substitute(expr))
        if body.get("status") != "success":
            fail(errors, f"{name}: {where}", f"query failed: {body.get('error')} [{expr}]")
        elif (require_data or require_data_for) and must_have_data and not body["data"]["result"]:
            fail(errors, f"{name}: {where}", f"query returned no data [{expr}]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", help="URL of a Prometheus that scraped mxtls_exporter")
    ap.add_argument("--require-data", action="store_true",
                    help="every panel and variable query must return data")
    ap.add_argument("--require-data-for", metavar="REGEX",
                    help="panels whose title matches REGEX (and the variables) must return data")
    args = ap.parse_args()
    errors = []
    if not DASHBOARDS:
        errors.append("no dashboards found")
    for path in DASHBOARDS:
        with open(path) as f:
            d = json.load(f)
        check_structure(path, d, errors)
        if args.prometheus:
            check_queries(path, d, args.prometheus, args.require_data, errors,
                          args.require_data_for)
    for e in errors:
        print("FAIL", e)
    print(f"dashboards: {len(DASHBOARDS)} checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
