#!/usr/bin/env python3
"""HTTP API helper for tests/e2e/run.sh: talks to Prometheus and Alertmanager and prints what
it finds as exposition-format lines (NAME{label="value",...} VALUE, labels sorted), so that the
shell's samples/expect helpers can assert on them like on a scrape.

    e2e_api.py prom-query BASE EXPR        instant query: one line per sample, NAME = __name__
                                            (or "result" when the sample has none)
    e2e_api.py prom-alerts BASE            /api/v1/alerts: alert{<labels>,alertstate="..."} value
                                            and per annotation
                                              alert_annotation{<those>,annotation,text} 1
    e2e_api.py prom-rules BASE             /api/v1/rules: rule{<rule labels>,rule_group,
                                            rule_type,rule_name,health,last_error,
                                            rule_state} 1
    e2e_api.py dash-data BASE DASHBOARD... every panel query and query variable of the
                                            dashboards, evaluated the way check_dashboards.py
                                            does ("All" = .*):
                                              dash_panel{dash_title,dash_ref,<labels>} value
                                              dash_panel_empty{dash_title,dash_ref} 1
                                              dash_variable{dash_name,value} 1
    e2e_api.py am-post BASE LABELS...      POST one alert per LABELS argument ("k=v,k=v") to
                                            Alertmanager's /api/v2/alerts
    e2e_api.py am-alerts BASE              /api/v2/alerts (active, silenced and inhibited):
                                              am_alert{<labels>,am_state,am_inhibited_by,
                                                       am_receivers} 1
                                            am_inhibited_by names the inhibiting alerts as
                                            alertname/severity (comma-separated, "" if none)
    e2e_api.py am-groups BASE              /api/v2/alerts/groups:
                                              am_group{<group labels>,am_receiver,
                                                       am_instances,am_severities} <alerts>
    e2e_api.py captured DIR                the webhook payloads webhook_capture.py stored:
                                              notification{<group labels>,am_receiver,am_file,
                                                           am_status,am_instances} <alerts>
                                              notified_alert{<labels>,am_receiver,am_file,
                                                             am_alert_status} 1
                                              notified_annotation{<those>,annotation,text} 1

Errors (unreachable server, API error status) go to stderr with exit status 1.
"""
import datetime
import glob
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def die(msg):
    sys.stderr.write(f"e2e_api: {msg}\n")
    sys.exit(1)


def http(method, url, body=None):
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            die(f"{method} {url}: HTTP {e.code}: {raw[:300]!r}")
    except (urllib.error.URLError, OSError) as e:
        die(f"{method} {url}: {e}")
    return 200, (json.loads(raw) if raw.strip() else None)


def prom_api(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params, doseq=True)
    code, body = http("GET", url)
    if not isinstance(body, dict) or body.get("status") != "success":
        err = body.get("error") if isinstance(body, dict) else body
        die(f"GET {url}: HTTP {code}: {err}")
    return body["data"]


def esc(v):
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def line(name, labels, value):
    inner = ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}} {value}"


def substitute(expr):
    # The values check_dashboards.py puts in for "All" and Grafana's built-in intervals.
    for var, value in (("$job", ".*"), ("$instance", ".*"), ("$__rate_interval", "5m"),
                       ("$__interval", "1m"), ("$__range", "1h")):
        expr = expr.replace(var, value)
    return expr


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def cmd_prom_query(base, expr):
    data = prom_api(base, "/api/v1/query", {"query": expr})
    if data["resultType"] in ("scalar", "string"):
        print(line("result", {}, data["result"][1]))
        return
    for s in data["result"]:
        labels = dict(s["metric"])
        name = labels.pop("__name__", "result")
        print(line(name, labels, s["value"][1]))


def cmd_prom_alerts(base):
    for a in prom_api(base, "/api/v1/alerts", {})["alerts"]:
        labels = dict(a["labels"])
        labels["alertstate"] = a["state"]
        print(line("alert", labels, a["value"]))
        for k, text in sorted((a.get("annotations") or {}).items()):
            print(line("alert_annotation", dict(labels, annotation=k, text=text), 1))


def cmd_prom_rules(base):
    for g in prom_api(base, "/api/v1/rules", {})["groups"]:
        for r in g["rules"]:
            labels = dict(r.get("labels") or {})
            labels["rule_group"] = g["name"]
            labels["rule_type"] = r.get("type", "")
            labels["rule_name"] = r.get("name", "")
            labels["health"] = r.get("health", "")
            labels["last_error"] = r.get("lastError", "")
            if r.get("type") == "alerting":
                labels["rule_state"] = r.get("state", "")
            print(line("rule", labels, 1))


def cmd_dash_data(base, paths):
    for path in paths:
        with open(path) as f:
            d = json.load(f)
        for p in all_panels(d.get("panels", [])):
            for t in p.get("targets") or []:
                meta = {"dash_title": p.get("title", ""), "dash_ref": t.get("refId", "")}
                data = prom_api(base, "/api/v1/query", {"query": substitute(t["expr"])})
                result = data["result"]
                if data["resultType"] == "scalar":
                    result = [{"metric": {}, "value": result}]
                if not result:
                    print(line("dash_panel_empty", meta, 1))
                for s in result:
                    labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
                    labels.update(meta)
                    print(line("dash_panel", labels, s["value"][1]))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") != "query":
                continue
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            q = substitute(q.strip())
            if not (q.startswith("label_values(") and q.endswith(")")):
                die(f"{path}: variable {v.get('name')}: unsupported query {q!r}")
            args = q[len("label_values("):-1]
            if "," in args:
                match, label = args.rsplit(",", 1)
                params = {"match[]": match.strip()}
            else:
                label, params = args, {}
            for value in prom_api(base, f"/api/v1/label/{label.strip()}/values", params):
                print(line("dash_variable", {"dash_name": v.get("name"), "value": value}, 1))


def cmd_am_post(base, specs):
    alerts = []
    for spec in specs:
        labels = {}
        for pair in spec.split(","):
            k, sep, val = pair.partition("=")
            if not sep or not k:
                die(f"bad label spec {spec!r} (want k=v,k=v)")
            labels[k.strip()] = val.strip()
        alerts.append({
            "labels": labels,
            "annotations": {"summary": "synthetic alert posted by tests/e2e/run.sh"},
            "startsAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "generatorURL": "http://127.0.0.1/tests/e2e/run.sh",
        })
    url = base.rstrip("/") + "/api/v2/alerts"
    code, body = http("POST", url, alerts)
    if code != 200:
        die(f"POST {url}: HTTP {code}: {body}")


def cmd_am_alerts(base):
    _, alerts = http("GET", base.rstrip("/") + "/api/v2/alerts")
    by_fp = {a["fingerprint"]: a["labels"] for a in alerts}
    for a in alerts:
        labels = dict(a["labels"])
        st = a.get("status") or {}
        inhibitors = []
        for fp in st.get("inhibitedBy") or []:
            src = by_fp.get(fp)
            inhibitors.append(f"{src.get('alertname')}/{src.get('severity')}" if src else fp)
        labels["am_state"] = st.get("state", "")
        labels["am_inhibited_by"] = ",".join(sorted(set(inhibitors)))
        labels["am_receivers"] = ",".join(sorted(r["name"] for r in a.get("receivers") or []))
        print(line("am_alert", labels, 1))


def joined(alerts, key):
    return ",".join(sorted({a["labels"].get(key, "") for a in alerts}))


def cmd_am_groups(base):
    _, groups = http("GET", base.rstrip("/") + "/api/v2/alerts/groups")
    for g in groups:
        labels = dict(g.get("labels") or {})
        labels["am_receiver"] = (g.get("receiver") or {}).get("name", "")
        labels["am_instances"] = joined(g["alerts"], "instance")
        labels["am_severities"] = joined(g["alerts"], "severity")
        print(line("am_group", labels, len(g["alerts"])))


def cmd_captured(directory):
    def key(path):
        base = os.path.basename(path)[:-len(".json")]
        name, _, n = base.rpartition("-")
        return (name, int(n) if n.isdigit() else 0)

    for path in sorted(glob.glob(os.path.join(directory, "*-*.json")), key=key):
        with open(path) as f:
            payload = json.load(f)
        meta = {"am_receiver": payload.get("receiver", ""), "am_file": os.path.basename(path)}
        alerts = payload.get("alerts") or []
        labels = dict(payload.get("groupLabels") or {})
        labels.update(meta)
        labels["am_status"] = payload.get("status", "")
        labels["am_instances"] = joined(alerts, "instance")
        print(line("notification", labels, len(alerts)))
        for a in alerts:
            al = dict(a.get("labels") or {})
            al.update(meta)
            al["am_alert_status"] = a.get("status", "")
            print(line("notified_alert", al, 1))
            for k, text in sorted((a.get("annotations") or {}).items()):
                print(line("notified_annotation", dict(al, annotation=k, text=text), 1))


def main():
    a = sys.argv[1:]
    cmds = {
        "prom-query": (2, lambda: cmd_prom_query(a[1], a[2])),
        "prom-alerts": (1, lambda: cmd_prom_alerts(a[1])),
        "prom-rules": (1, lambda: cmd_prom_rules(a[1])),
        "dash-data": (2, lambda: cmd_dash_data(a[1], a[2:])),
        "am-post": (2, lambda: cmd_am_post(a[1], a[2:])),
        "am-alerts": (1, lambda: cmd_am_alerts(a[1])),
        "am-groups": (1, lambda: cmd_am_groups(a[1])),
        "captured": (1, lambda: cmd_captured(a[1])),
    }
    if not a or a[0] not in cmds or len(a) - 1 < cmds[a[0]][0]:
        die("usage: see the docstring of " + sys.argv[0])
    cmds[a[0]][1]()


if __name__ == "__main__":
    main()
