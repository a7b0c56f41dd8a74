#!/usr/bin/env python3
"""Renders benchmark 4 (bench/hosting.sh) as Markdown from its work directory.

Reads the snapshots DIR/snap/M (M = 0 before Prometheus started, then one per scrape interval:
relay_counts, postfix_tls, proc, exporter_metrics, prom_metrics) and Prometheus' answers
DIR/q_*.json (every sample of up, scrape_duration_seconds, probe_success and
probe_duration_seconds of the probe job over the run). Standard library only.
"""
import argparse
import json
import math
import os
import re
import sys


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = float(parts[1])
    return out


def relay_counts(path, prefix):
    out = {}
    with open(path) as f:
        for line in f:
            addr, n = line.split()
            if addr.startswith(prefix):
                out[addr] = int(n)
    return out


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def metric(path, name, labels=""):
    """Sum of the samples of NAME whose label set contains the text LABELS."""
    total, found = 0.0, False
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            m = SAMPLE.match(line)
            if m and m.group(1) == name and labels in (m.group(2) or ""):
                total += float(m.group(3))
                found = True
    return total if found else None


def samples(path):
    """[(instance, [values])] of a range-vector query answer."""
    with open(path) as f:
        r = json.load(f)
    if r.get("status") != "success":
        sys.exit(f"{path}: {r}")
    return [(s["metric"].get("instance", ""), [float(v) for _, v in s["values"]])
            for s in r["data"]["result"]]


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[max(1, math.ceil(p / 100.0 * len(sorted_values))) - 1]


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    for a in ("dir", "reuse-window", "revision", "versions"):
        ap.add_argument("--" + a, required=True)
    for a in ("domains", "hosts", "rtt-ms", "interval", "timeout", "minutes"):
        ap.add_argument("--" + a, type=int, required=True)
    o = ap.parse_args()
    d = o.dir
    snaps = list(range(o.minutes + 1))
    proc = [read_kv(f"{d}/snap/{m}/proc") for m in snaps]
    tls = [int(open(f"{d}/snap/{m}/postfix_tls").read().split()[0]) for m in snaps]
    relay = [relay_counts(f"{d}/snap/{m}/relay_counts", "10.88.8.") for m in snaps]
    exm = [f"{d}/snap/{m}/exporter_metrics" for m in snaps]
    prm = [f"{d}/snap/{m}/prom_metrics" for m in snaps]
    addrs = [f"10.88.8.{k}" for k in range(1, o.hosts + 1)]
    endpoints = o.hosts  # one address per MX host name

    # Prometheus' own data: every sample of the probe job over the run.
    up = samples(f"{d}/q_up.json")
    dur = samples(f"{d}/q_scrape_duration.json")
    succ = samples(f"{d}/q_probe_success.json")
    pdur = samples(f"{d}/q_probe_duration.json")
    up_all = [v for _, vs in up for v in vs]
    up_zero = sum(1 for v in up_all if v != 1)
    targets_down = sum(1 for _, vs in up if any(v != 1 for v in vs))
    durs = sorted(v for _, vs in dur for v in vs)
    succ_all = [v for _, vs in succ for v in vs]
    succ_zero = sum(1 for v in succ_all if v != 1)
    pdurs = sorted(v for _, vs in pdur for v in vs)
    per_target = sorted(len(vs) for _, vs in up)

    out = []
    w = out.append
    w("")
    w(f"## Benchmark 4: hosting shape, {o.domains:,} domains on {o.hosts} shared MX addresses, "
      f"scraped by Prometheus every {o.interval} s ({os.popen('date -u +%Y-%m-%dT%H:%MZ').read().strip()})")
    w("")
    w(f"Revision {o.revision}; {o.versions}; {os.cpu_count()} CPUs, all of it on this machine. "
      f"{o.domains:,} domains cN.hosting.bench.test, each MX 10/20 on a pair of the {o.hosts} host names "
      f"provider-mxK.bench.test, one delayed address each (10.88.8.1-{o.hosts}), RTT {o.rtt_ms} ms (SMTP and DNS); "
      f"default module (MTA-STS on, no policy published), endpoint_reuse_window {o.reuse_window}; "
      f"scrape_timeout {o.timeout} s; {o.minutes} intervals from Prometheus' start (interval 1 holds every target's first scrape).")
    w("")
    w("### Prometheus' view (every sample of job `mxtls` over the run)")
    w("")
    w(f"- targets: {len(up):,} series of `up` (of {o.domains:,}); scrapes per target "
      f"min {per_target[0] if per_target else 0} / max {per_target[-1] if per_target else 0}; "
      f"{len(up_all):,} scrapes in all")
    w(f"- `up` == 0: **{up_zero}** scrapes, {targets_down} targets ever down")
    w(f"- `scrape_duration_seconds`: p50 {pct(durs, 50):.3f}, p99 {pct(durs, 99):.3f}, max **{durs[-1] if durs else float('nan'):.3f}** s "
      f"(timeout {o.timeout} s)")
    w(f"- `probe_success` == 0: **{succ_zero}** of {len(succ_all):,} scrapes; `probe_duration_seconds` "
      f"p50 {pct(pdurs, 50):.3f}, p99 {pct(pdurs, 99):.3f}, max {pdurs[-1] if pdurs else float('nan'):.3f} s")
    if os.path.exists(f"{d}/targets_health.txt"):
        health = open(f"{d}/targets_health.txt").read().strip().replace("\t", " ").splitlines()
        w(f"- target health at the end (count, pool, health, last error): {'; '.join(health)}")
    w("")
    w("### Per scrape interval")
    w("")
    w("| interval | s | TLS handshakes at Postfix | relay connections, sum / min / max per address | "
      "main sessions opened / shared (endpoint cache miss / hit) | chain judgements verified / cached | "
      "probes | exporter CPU (s) | HTTP requests waited | exporter threads | exporter VmRSS (KiB) | "
      "Prometheus head series | samples appended/s | Prometheus VmRSS (KiB) | load |")
    w("| --- " * 15 + "|")
    def delta(seq, m):
        a, b = seq[m - 1], seq[m]
        return None if a is None or b is None else b - a
    rows = []
    for m in snaps[1:]:
        secs = proc[m]["time"] - proc[m - 1]["time"]
        rc = [relay[m].get(a, 0) - relay[m - 1].get(a, 0) for a in addrs]
        miss = delta([metric(p, "mxtls_exporter_endpoint_cache_requests_total", 'result="miss"') for p in exm], m)
        hit = delta([metric(p, "mxtls_exporter_endpoint_cache_requests_total", 'result="hit"') for p in exm], m)
        cmiss = delta([metric(p, "mxtls_exporter_chain_judgement_cache_requests_total", 'result="miss"') for p in exm], m)
        chit = delta([metric(p, "mxtls_exporter_chain_judgement_cache_requests_total", 'result="hit"') for p in exm], m)
        probes = delta([metric(p, "mxtls_exporter_probes_total") for p in exm], m)
        waited = delta([metric(p, "mxtls_exporter_http_requests_waited_total") for p in exm], m)
        appended = delta([metric(p, "prometheus_tsdb_head_samples_appended_total") for p in prm], m)
        series = metric(prm[m], "prometheus_tsdb_head_series")
        cpu = proc[m]["exporter_cpu"] - proc[m - 1]["exporter_cpu"]
        rows.append(dict(m=m, tls=tls[m] - tls[m - 1], rc=rc, cpu=cpu, secs=secs, miss=miss, hit=hit, probes=probes))
        w(f"| {m} | {secs:.0f} | {tls[m] - tls[m - 1]:,} | {sum(rc):,} / {min(rc)} / {max(rc)} | "
          f"{fmt(miss)} / {fmt(hit)} | {fmt(cmiss)} / {fmt(chit)} | {fmt(probes)} | {cpu:.1f} | {fmt(waited)} | "
          f"{proc[m]['exporter_threads']:.0f} | {proc[m]['exporter_rss_kib']:,.0f} | {fmt(series)} | "
          f"{fmt(appended / secs if appended is not None else None)} | {fmt(proc[m].get('prom_rss_kib'))} | {proc[m]['loadavg']} |")
    w("")
    steady = rows[1:]
    if steady:
        tls_min = sum(r["tls"] for r in steady) / len(steady) * 60 / (sum(r["secs"] for r in steady) / len(steady))
        cpu_min = sum(r["cpu"] for r in steady) / sum(r["secs"] for r in steady) * 60
        per_addr = [sum(r["rc"][i] for r in steady) / len(steady) for i in range(len(addrs))]
        naive = o.domains * 2 * 60 / o.interval
        w(f"Steady state (intervals 2-{o.minutes}):")
        w("")
        w(f"- TLS handshakes at the server: **{tls_min:,.0f} per minute** for {endpoints} endpoints "
          f"({tls_min / endpoints:.2f} per endpoint per minute); relay connections per address per interval: "
          f"min {min(per_addr):.1f}, max {max(per_addr):.1f}")
        w(f"- without sharing (every domain's 2 endpoints probed for itself): {naive:,.0f} handshakes per minute, "
          f"**{naive / tls_min:,.0f}x** more" if tls_min else "- no handshakes measured")
        w(f"- exporter CPU: **{cpu_min:.1f} s per minute** ({cpu_min / 60 * 100:.0f} % of one core), "
          f"{cpu_min * 1000 / (o.domains * 60 / o.interval):.2f} ms per /probe scrape")
    hwm = proc[-1]["exporter_hwm_kib"]
    w(f"- exporter peak RSS (VmHWM) **{hwm:,.0f} KiB** ({hwm / 1024:.0f} MiB); threads at the end "
      f"{proc[-1]['exporter_threads']:.0f}; VmRSS before Prometheus started {proc[0]['exporter_rss_kib']:,.0f} KiB")
    ht = metric(exm[-1], "mxtls_exporter_http_handler_threads")
    w(f"- `mxtls_exporter_http_handler_threads` at the end {fmt(ht)}; "
      f"`mxtls_exporter_http_requests_waited_total` {fmt(metric(exm[-1], 'mxtls_exporter_http_requests_waited_total'))}")
    for name in ("mxtls_exporter_endpoint_cache_requests_total", "mxtls_exporter_chain_judgement_cache_requests_total",
                 "mxtls_exporter_probes_total"):
        vals = []
        with open(exm[-1]) as f:
            for line in f:
                if line.startswith(name + "{") or line.startswith(name + " "):
                    vals.append(line.strip())
        w(f"- at the end: {'; '.join('`' + v + '`' for v in vals) if vals else name + ' absent'}")
    series = metric(prm[-1], "prometheus_tsdb_head_series")
    w(f"- Prometheus head series at the end **{fmt(series)}**; VmHWM {fmt(proc[-1].get('prom_hwm_kib'))} KiB; "
      f"Prometheus CPU {proc[-1].get('prom_cpu', 0) - proc[1].get('prom_cpu', 0):.1f} s over intervals 2-{o.minutes}; "
      f"relay CPU {proc[-1]['relay_cpu'] - proc[0]['relay_cpu']:.1f} s over the run; "
      f"UDP receive-buffer drops in the client namespace {proc[-1]['udp_drops_cli'] - proc[0]['udp_drops_cli']:.0f}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
