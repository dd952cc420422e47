#!/usr/bin/env python3
"""Benchmark `bpfkit trace` against bpftrace, alternating runs (10 each, medians):

1. `BEGIN { exit(); }`: the whole process, exec to exit, and peak RSS.
2. exec -> probes attached for a tracepoint one-liner: both tools run
   `-c '/usr/bin/date +%s.%N'`, which execs only once the probes are attached; the
   child's timestamp minus the launch time is the start-up latency.
3. The binary size of the bpfkit given (build it static and stripped with
   `cargo build --profile min-size --target x86_64-unknown-linux-musl -p bpfkit-cli`).

Usage (root): bench/trace-startup/run.py PATH/TO/bpfkit
"""
import os
import statistics
import subprocess
import sys
import time

RUNS = 10


def peak_rss(argv):
    """Peak RSS from GNU time (wait4 from Python would count Python's pre-exec pages)."""
    if not os.path.exists("/usr/bin/time"):
        return "? (apt-get install time)"
    r = subprocess.run(["/usr/bin/time", "-f", "RSS %M"] + argv, capture_output=True,
                       text=True, check=True)
    kib = next(int(l.split()[1]) for l in r.stderr.splitlines() if l.startswith("RSS "))
    return f"{kib / 1024:.1f} MiB"


def main():
    bpfkit = sys.argv[1]
    print(f"bpfkit binary: {os.path.getsize(bpfkit)} bytes ({bpfkit})")

    script = "BEGIN { exit(); }"
    wall = {"bpftrace": [], "bpfkit": []}
    for _ in range(RUNS):
        for tool, argv in (("bpftrace", ["bpftrace"]), ("bpfkit", [bpfkit, "trace"])):
            t0 = time.perf_counter()
            p = subprocess.Popen(argv + ["-e", script], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            status = p.wait()
            wall[tool].append((time.perf_counter() - t0) * 1000)
            assert status == 0, (tool, status)
    a, b = statistics.median(wall["bpftrace"]), statistics.median(wall["bpfkit"])
    print(f"{script!r} exec to exit: bpftrace {a:.1f} ms, bpfkit {b:.1f} ms "
          f"(x{b / a:.3f}); peak RSS bpftrace {peak_rss(['bpftrace', '-e', script])}, "
          f"bpfkit {peak_rss([bpfkit, 'trace', '-e', script])}")

    script = "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[comm] = count(); }"
    attached = {"bpftrace": [], "bpfkit": []}
    for _ in range(RUNS):
        for tool, argv in (("bpftrace", ["bpftrace"]), ("bpfkit", [bpfkit, "trace"])):
            t0 = time.time()
            out = subprocess.run(argv + ["-c", "/usr/bin/date +%s.%N", "-e", script],
                                 capture_output=True, text=True, check=True).stdout
            stamp = next(float(l) for l in out.splitlines()
                         if l[:1].isdigit() and "." in l)
            attached[tool].append((stamp - t0) * 1000)
    a, b = statistics.median(attached["bpftrace"]), statistics.median(attached["bpfkit"])
    print(f"tracepoint one-liner exec to attached: bpftrace {a:.1f} ms, bpfkit {b:.1f} ms "
          f"(x{b / a:.3f})")


if __name__ == "__main__":
    main()
