#!/usr/bin/env python3
"""The summary of `make bench` (scripts/bench.sh): reads dqlite-bench's CSV
rows of every case (header line first) and prints, per metric, one Markdown
table: a row per workload, a column per target with the median over the
repetitions and [min-max], and the ours/reference ratios (3 nodes and 1
node); then, when the run has ours1tls, what TLS costs against ours1 on
the same run (issue 19's target: ops/s within 15%, CPU per op both sides). Medians, because a single slow repetition (a noisy neighbour, a
checkpoint) must not move the figure.

    bench-summary.py RESULTS.csv REPS
"""
import csv
import statistics
import sys
from collections import defaultdict

TARGETS = ["ours3", "ours3ri", "ref3", "ours1", "ours1ri", "ours1tls", "ref1", "sqlite"]
RATIOS = [("ours3", "ref3"), ("ours1", "ref1"), ("ours3ri", "ref3"), ("ours3", "ours3ri"),
          ("ours1tls", "ours1")]
TLS_WORKLOADS = ["insert:1", "insert:32", "read:8"]
METRICS = [
    ("ops_per_s", "Throughput (ops/s; tx = transactions/s, scan = scans/s; higher is better)", "{:.0f}"),
    ("p50_ms", "Latency p50 (ms; lower is better)", "{:.3f}"),
    ("p99_ms", "Latency p99 (ms)", "{:.2f}"),
    ("max_ms", "Latency max (ms)", "{:.1f}"),
    ("busy", "Busy answers retried (per run)", "{:.0f}"),
    ("server_cpu_us_per_op", "Server CPU per op (us, all nodes; sqlite: the whole process)", "{:.0f}"),
    ("client_cpu_us_per_op", "Client CPU per op (us, dqlite-bench's own process)", "{:.1f}"),
    ("rss_mb", "RSS of the largest node after the workload (MB)", "{:.1f}"),
]


def key_of(row):
    name = row["workload"] + ":" + row["clients"]
    return name + ("/" + row["value_bytes"] if row["value_bytes"] != "100" else "")


def load(path):
    data = defaultdict(lambda: defaultdict(list))  # metric -> (key, target) -> values
    order = []
    with open(path) as f:
        for row in csv.DictReader(f):
            key = key_of(row)
            if key not in order:
                order.append(key)
            for metric, _, _ in METRICS:
                value = float(row.get(metric) or -1)
                if value >= 0:
                    data[metric][(key, row["label"])].append(value)
    return data, order


def cell(values, fmt):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return "{} [{}-{}]".format(fmt.format(med), fmt.format(min(values)), fmt.format(max(values)))


def ratio(data, key, a, b):
    va, vb = data.get((key, a)), data.get((key, b))
    if not va or not vb or statistics.median(vb) == 0:
        return "-"
    return "{:.2f}".format(statistics.median(va) / statistics.median(vb))


def table(data, order, title, fmt, targets):
    print("### " + title)
    print()
    cols = targets + ["{}/{}".format(a, b) for a, b in RATIOS if a in targets and b in targets]
    print("| workload | " + " | ".join(cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for key in order:
        cells = [cell(data.get((key, t), []), fmt) for t in targets]
        cells += [ratio(data, key, a, b) for a, b in RATIOS if a in targets and b in targets]
        print("| " + key + " | " + " | ".join(cells) + " |")
    print()


def main():
    data, order = load(sys.argv[1])
    reps = sys.argv[2] if len(sys.argv) > 2 else "?"
    seen = {t for m in data.values() for (_, t) in m}
    targets = [t for t in TARGETS if t in seen] + sorted(seen - set(TARGETS))
    print("## dqlite-bench: medians of {} repetitions [min-max]".format(reps))
    print()
    print("ours = dqlited, ref = libdqlite 1.11.1 via dqlite-demo, N = nodes;")
    if any(t.endswith("ri") for t in seen):
        print("oursNri = dqlited --read-lease off (a read-index round per read; ours: leases).")
    print("sqlite = local file, WAL, synchronous=FULL. Ratios are ours/ref of the medians.")
    print("'load' = filling the read table, 5000 rows (1000 of 1 KiB) per statement.")
    print()
    for metric, title, fmt in METRICS:
        table(data[metric], order, title, fmt, targets)
    if "ours1tls" in targets and "ours1" in targets:
        tls_cost(data)


def med(data, metric, key, target):
    values = data[metric].get((key, target))
    return statistics.median(values) if values else None


def tls_cost(data):
    """ours1tls against ours1 of the same run, per TLS workload."""
    print("### TLS against plaintext (ours1tls vs ours1, medians of this run)")
    print()
    print("| workload | ops/s plain | ops/s TLS | change | server us/op plain -> TLS | client us/op plain -> TLS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for w in TLS_WORKLOADS:
        key = w if ":" in w else w + ":1"
        p, t = med(data, "ops_per_s", key, "ours1"), med(data, "ops_per_s", key, "ours1tls")
        if p is None or t is None:
            continue
        cells = ["{:.0f}".format(p), "{:.0f}".format(t), "{:+.1f}%".format(100 * (t / p - 1))]
        for metric in ("server_cpu_us_per_op", "client_cpu_us_per_op"):
            a, b = med(data, metric, key, "ours1"), med(data, metric, key, "ours1tls")
            cells.append("-" if a is None or b is None else "{:.1f} -> {:.1f}".format(a, b))
        print("| " + key + " | " + " | ".join(cells) + " |")
    print()


if __name__ == "__main__":
    main()
