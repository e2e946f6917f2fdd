#!/usr/bin/env python3
"""Sampler of test/perf/scan_heartbeat.sh: owns recording what each node's
event-loop thread is doing, so that gaps.py can say where the time of a
long heartbeat gap went.

    loopstat.py OUT SECONDS INTERVAL_MS ID:PID:TID [ID:PID:TID ...]

Every interval, for every thread, appends to OUT one line:

    epoch id state syscall run_ns wait_ns

state is the kernel's (R running or runnable, S sleeping, D uninterruptible);
syscall is the number the thread is blocked in, or "running"; run_ns and
wait_ns are /proc schedstat's time on a CPU and time spent runnable waiting
for one. Stops after SECONDS or when every thread is gone.
"""
import sys
import time


def sample(pid, tid):
    base = "/proc/%s/task/%s/" % (pid, tid)
    try:
        with open(base + "stat") as f:
            stat = f.read()
        with open(base + "syscall") as f:
            sc = f.read().split()
        with open(base + "schedstat") as f:
            run, wait = f.read().split()[:2]
    except OSError:
        return None
    state = stat[stat.rindex(")") + 2]
    return "%s %s %s %s" % (state, sc[0] if sc else "-", run, wait)


def main():
    out, secs, step = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    threads = [t.split(":") for t in sys.argv[4:]]
    end = time.monotonic() + secs
    nxt = time.monotonic()
    with open(out, "a") as f:
        while time.monotonic() < end:
            now = time.time()
            alive = 0
            for node, pid, tid in threads:
                s = sample(pid, tid)
                if s is not None:
                    alive += 1
                    f.write("%.3f %s %s\n" % (now, node, s))
            if alive == 0:
                break
            nxt += step / 1000.0
            time.sleep(max(0.0, nxt - time.monotonic()))


if __name__ == "__main__":
    main()
