#!/usr/bin/env python3
"""Analysis step of test/perf/scan_heartbeat.sh: owns turning the run's raw
records into the report (docs/performance.md, "Event loop and heartbeats
during a 1 GB scan").

Inputs (all written by scan_heartbeat.sh into its temporary directory):
  nodes.txt   "ID PORT PID LOOP_TID" per node
  phases.txt  scan_probe's PHASE and PROBE lines, plus per node
              "CPU label id cpu_s loop_run_s loop_wait_s" (the process's
              CPU time, its loop thread's run time and the time that thread
              waited runnable for a CPU, from /proc schedstat)
  ss.log      `ss -tnpH state established` samples (one per second): which
              dqlited process owns which local port, so that a captured
              packet can be attributed to a node-to-node stream
  peer.txt    `tcpdump -n -tt -q -r` of the loopback capture
  nodeN.log   dqlited's logs ("state S, leader L" lines mark elections)
  loop.txt    loopstat.py's samples of each node's loop thread: for the
              worst gap of a phase, where the time of both ends' loop
              threads went (on a CPU, waiting for one, asleep or blocked)

For every phase and every directed node-to-node stream it reports the
longest gap between two consecutive packets carrying payload (a raft
message from that node: AppendEntries, a heartbeat, a read-index round or a
reply). A follower's election timer is reset by every message from the
leader, so the longest leader -> follower gap is the longest time a follower
went without hearing from its leader.
"""
import argparse
import bisect
import datetime
import re
import sys


def read_nodes(path):
    nodes = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 3:
            nodes[int(f[0])] = (int(f[1]), int(f[2]))
    return nodes


def read_phases(path):
    phases, probes, cpu = [], [], {}
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "PHASE":
            phases.append({"label": f[1], "start": float(f[2]),
                           "end": float(f[3]), "secs": float(f[4]),
                           "rows": int(f[5]), "bytes": int(f[6]),
                           "errors": int(f[7])})
        elif f[0] == "PROBE":
            probes.append({"label": f[1], "kind": f[2], "n": int(f[3]),
                           "p50": float(f[4]), "p99": float(f[5]),
                           "max": float(f[6]), "max_at": float(f[7]),
                           "errors": int(f[8]), "changes": int(f[9])})
        elif f[0] == "LEADER":
            cpu.setdefault("leader", {})[f[1]] = int(f[2])
        elif f[0] == "CPU":
            cpu.setdefault(f[1], {})[int(f[2])] = tuple(map(float, f[3:6]))
    return phases, probes, cpu


def read_port_owners(path, pid_to_id):
    """local port -> node id, for sockets owned by a dqlited process."""
    owners = {}
    pat = re.compile(r":(\d+)\s+\S+:(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)")
    for line in open(path):
        m = pat.search(line)
        if m and int(m.group(3)) in pid_to_id:
            owners[int(m.group(1))] = pid_to_id[int(m.group(3))]
    return owners


def read_flows(path, port_to_id, owners):
    """(from id, to id) -> sorted packet times (payload > 0 only)."""
    pat = re.compile(r"^(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > "
                     r"127\.0\.0\.1\.(\d+): tcp (\d+)")
    flows = {}
    for line in open(path):
        m = pat.match(line)
        if not m or int(m.group(4)) == 0:
            continue
        src, dst = int(m.group(2)), int(m.group(3))
        if dst not in port_to_id or src not in owners:
            continue  # a client's stream, or an answer on an accepted one
        key = (owners[src], port_to_id[dst])
        if key[0] != key[1]:
            flows.setdefault(key, []).append(float(m.group(1)))
    for t in flows.values():
        t.sort()
    return flows


def gaps_in(times, start, end):
    """Gaps between consecutive packets that overlap [start, end]."""
    i = max(bisect.bisect_left(times, start) - 1, 0)
    j = min(bisect.bisect_right(times, end) + 1, len(times))
    sel = times[i:j]
    out = []
    for a, b in zip(sel, sel[1:]):
        if b > start and a < end:
            out.append((b - a, a))
    return out


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = max(1, min(len(v), int(p / 100.0 * len(v) + 0.999999)))
    return v[k - 1]


def read_state_changes(paths):
    """(epoch, node id, state, text) of every 'state S, leader L' line
    (S: 1 follower, 2 candidate, 3 leader)."""
    out = []
    pat = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \S+\s+"
                     r".*?(state (\d+), leader \d+)")
    for node_id, path in paths:
        try:
            lines = open(path, errors="replace").readlines()
        except OSError:
            continue
        for line in lines:
            m = pat.match(line)
            if m:
                t = datetime.datetime.strptime(m.group(1),
                                               "%Y-%m-%dT%H:%M:%S.%f")
                t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
                out.append((t, node_id, int(m.group(3)), m.group(2)))
    return sorted(out)


def leadership(states):
    """node id -> [(from, to)] times it was leader."""
    out, since = {}, {}
    for t, node, state, _ in states:
        if state == 3 and node not in since:
            since[node] = t
        elif state != 3 and node in since:
            out.setdefault(node, []).append((since.pop(node), t))
    for node, t in since.items():
        out.setdefault(node, []).append((t, float("inf")))
    return out


def term_end(terms, node, t):
    """End of the node's leadership that covers time t, None if it did
    not lead at t."""
    for a, b in terms.get(node, []):
        if a <= t < b:
            return b
    return None


def led_gaps(gaps, terms, node):
    """The gaps that start while `node` leads, each cut at the end of that
    leadership: a leader that stops sending and is deposed for it is
    counted until it steps down (when it runs again), and a leader that
    steps down normally is not charged for the silence after."""
    out = []
    for gap, at in gaps:
        end = term_end(terms, node, at)
        if end is not None:
            out.append((min(gap, end - at), at))
    return out


def read_sched(path):
    """(epoch, lateness ms) of the client's control sleeps."""
    out = []
    try:
        for line in open(path):
            f = line.split()
            if len(f) == 3 and f[1] == "sched":
                out.append((float(f[0]), float(f[2])))
    except OSError:
        pass
    return sorted(out)


def worst_stall(sched, a, b):
    i = bisect.bisect_left(sched, (a, 0.0))
    j = bisect.bisect_right(sched, (b, float("inf")))
    return max((x[1] for x in sched[i:j]), default=0.0)


def read_loop(path):
    """node id -> sorted [(epoch, state, syscall, run_ns, wait_ns)]."""
    out = {}
    try:
        for line in open(path):
            f = line.split()
            if len(f) == 6:
                out.setdefault(int(f[1]), []).append(
                    (float(f[0]), f[2], f[3], int(f[4]), int(f[5])))
    except OSError:
        pass
    for v in out.values():
        v.sort()
    return out


def loop_during(samples, a, b):
    """Where a loop thread's time went over [a, b], from the samples that
    bracket it: seconds on a CPU, waiting for one, and the rest (asleep or
    blocked), plus how the samples inside found it."""
    if not samples:
        return "no samples"
    times = [x[0] for x in samples]
    i = max(bisect.bisect_right(times, a) - 1, 0)
    j = min(bisect.bisect_left(times, b), len(samples) - 1)
    first, last = samples[i], samples[j]
    span = last[0] - first[0]
    run = (last[3] - first[3]) / 1e9
    wait = (last[4] - first[4]) / 1e9
    seen = {}
    for x in samples[i:j + 1]:
        kind = {"232": "epoll", "281": "epoll", "202": "futex",
                "running": "on CPU"}.get(x[2], "syscall " + x[2])
        key = x[1] + " " + kind
        seen[key] = seen.get(key, 0) + 1
    return "over %.2f s: on a CPU %.2f s, waiting for a CPU %.2f s, " \
        "asleep or blocked %.2f s (samples: %s)" % (
            span, run, wait, max(span - run - wait, 0.0),
            ", ".join("%s %d" % kv for kv in sorted(seen.items())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--leader", type=int, required=True)
    ap.add_argument("--election-ms", type=float, required=True)
    ap.add_argument("--heartbeat-ms", type=float, required=True)
    a = ap.parse_args()

    nodes = read_nodes(a.dir + "/nodes.txt")
    phases, probes, cpu = read_phases(a.dir + "/phases.txt")
    pid_to_id = {pid: i for i, (port, pid) in nodes.items()}
    port_to_id = {port: i for i, (port, pid) in nodes.items()}
    try:
        owners = read_port_owners(a.dir + "/ss.log", pid_to_id)
        flows = read_flows(a.dir + "/peer.txt", port_to_id, owners)
    except OSError:
        flows = None
    states = read_state_changes(
        [(i, "%s/node%d.log" % (a.dir, i)) for i in sorted(nodes)])

    w = sys.stdout.write
    w("heartbeat interval %.0f ms, election timeout %.0f ms, first "
      "leader: node %d\n\n" % (a.heartbeat_ms, a.election_ms, a.leader))
    phase_leader = cpu.get("leader", {})
    w("| phase | leader | seconds | rows | MiB | errors | CPU s (node %s) | "
      "leader's loop thread: ran s / waited for a CPU s |\n" %
      "/".join(str(i) for i in sorted(nodes)))
    w("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
    for ph in phases:
        c = cpu.get(ph["label"], {})
        ld = phase_leader.get(ph["label"], a.leader)
        lc = c.get(ld, (0, 0, 0))
        w("| %s | %d | %.1f | %d | %.0f | %d | %s | %.2f / %.2f |\n" % (
            ph["label"], ld, ph["secs"], ph["rows"], ph["bytes"] / 2**20,
            ph["errors"], "/".join("%.1f" % c.get(i, (0,))[0] for i in
                                   sorted(nodes)), lc[1], lc[2]))
    w("\nProbes (a request every interval from another connection; "
      "latency ms; sched: how late a plain 10 ms sleep of the client "
      "woke up):\n\n")
    w("| phase | probe | n | p50 | p99 | max | errors | leader "
      "changes |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
    for p in probes:
        w("| %s | %s | %d | %.2f | %.2f | %.2f | %d | %d |\n" % (
            p["label"], p["kind"], p["n"], p["p50"], p["p99"], p["max"],
            p["errors"], p["changes"]))

    terms = leadership(states)
    sched = read_sched(a.dir + "/samples.txt")
    loops = read_loop(a.dir + "/loop.txt")
    if flows is None:
        w("\nno packet capture: heartbeat gaps not measured\n")
    else:
        w("\nLongest gap between consecutive raft messages on each "
          "node-to-node stream, counting the gaps that start while one "
          "end of the stream leads, up to the end of that leadership "
          "(ms; p99 of those gaps; messages):\n\n")
        keys = sorted(flows)
        w("| phase | " + " | ".join("%d->%d" % k for k in keys) + " |\n")
        w("| --- |" + " --- |" * len(keys) + "\n")
        worst = {}
        for ph in phases:
            cells = []
            for k in keys:
                raw = gaps_in(flows[k], ph["start"], ph["end"])
                down = led_gaps(raw, terms, k[0])  # leader -> follower
                g = down + led_gaps(raw, terms, k[1])
                if not g:
                    cells.append("-")
                    continue
                mx = max(g)
                n = sum(1 for t in flows[k] if ph["start"] <= t <= ph["end"])
                cells.append("%.1f (p99 %.1f; %d)" % (
                    mx[0] * 1000, pct([x[0] for x in g], 99) * 1000, n))
                for gap, at in down:
                    cur = worst.get(ph["label"])
                    if cur is None or gap > cur[0]:
                        worst[ph["label"]] = (gap, at, k)
            w("| %s | %s |\n" % (ph["label"], " | ".join(cells)))
        w("\nWorst leader -> follower gap per phase (and the client's "
          "worst control-sleep lateness inside that gap):\n")
        for ph in phases:
            if ph["label"] in worst:
                g, at, k = worst[ph["label"]]
                flag = " > election timeout / 2" if \
                    g * 1000 > a.election_ms / 2 else ""
                w("  %s: %.1f ms (%d->%d, from %.6f; control %.1f ms)%s\n"
                  % (ph["label"], g * 1000, k[0], k[1], at,
                     worst_stall(sched, at, at + g), flag))
                for role, node in (("leader", k[0]), ("follower", k[1])):
                    if node in loops:
                        w("    %s %d's loop thread %s\n" % (
                            role, node, loop_during(loops[node], at,
                                                    at + g)))

    first = phases[0]["start"] if phases else 0
    last = phases[-1]["end"] if phases else 0
    changes = [s for s in states if first <= s[0] <= last]
    w("\nstate changes logged during the phases: %d\n" % len(changes))
    for t, i, _, text in changes:
        label = next((p["label"] for p in phases
                      if p["start"] <= t <= p["end"]), "between phases")
        w("  %.3f node %d: %s (%s)\n" % (t, i, text, label))


if __name__ == "__main__":
    main()
