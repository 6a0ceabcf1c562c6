#!/usr/bin/env python3
"""A spoofed SYN flood cannot push memory past the flow bound, evictions are counted, and
eviction gives up silent attempts before ones with leak evidence.

usage: memory_bound_test.py --binary BIN --flood GENERATOR --source-dir DIR --work-dir DIR
"""
import argparse
import json
import os
import resource
import subprocess
import sys

SYNS = 200000
LEAKS = 20


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def run_sensor(binary, policy, capture, flows, out_path):
    """Runs the sensor and returns (events, peak RSS of that run in MiB)."""
    if os.path.exists(out_path):
        os.remove(out_path)  # -o appends: the events must be this run's alone
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([binary, "-q", "-c", policy, "-r", capture, "--flows", str(flows),
                             "-o", out_path], stderr=subprocess.PIPE, timeout=300)
    if result.returncode != 0:
        fail("sensor exited %d: %s" % (result.returncode, result.stderr.decode()))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far, so runs go smallest first.
    with open(out_path) as source:
        events = [json.loads(line) for line in source]
    return events, max(peak, before) / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--flood", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--sanitized", type=int, default=0, choices=(0, 1),
                        help="1: the binary carries ASan, whose shadow memory inflates RSS")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    capture = os.path.join(args.work_dir, "flood.pcap")
    subprocess.run([args.flood, capture, str(SYNS)], check=True)
    policy = os.path.join(args.source_dir, "tests", "scenarios", "edge.yaml")

    small, small_rss = run_sensor(args.binary, policy, capture, 1000,
                                  os.path.join(args.work_dir, "small.ndjson"))
    stats = small[-1]
    if stats["type"] != "sensor_stats" or not stats["final"]:
        fail("the last event is not the final sensor_stats")
    attempts = [e for e in small if e["type"] == "attempt"]
    created = stats["flows_created"]
    # Half the flood comes from the dynamic pool; colliding random (source, port) pairs are
    # one attempt, so count them from the events rather than assume.
    if created != len(attempts):
        fail("flows_created %d, attempt events %d" % (created, len(attempts)))
    if created < SYNS // 2 * 0.95:
        fail("only %d attempts from %d pool SYNs" % (created, SYNS // 2))
    # Nothing closes during the flood (5 s, SYN timer 30 s), so every attempt beyond the
    # 1000 slots evicted one.
    if stats["evictions"] != created - 1000:
        fail("evictions %d, expected %d" % (stats["evictions"], created - 1000))
    evicted = [e for e in attempts if e["close_reason"] == "evicted"]
    if len(evicted) != stats["evictions"]:
        fail("%d evicted events for %d evictions" % (len(evicted), stats["evictions"]))
    if any(e["verdict"] != "unknown" or e["evidence"] for e in evicted):
        fail("an evicted attempt carried evidence: eviction must take silent ones first")
    leaked = [e for e in attempts if e["verdict"] == "leaked"]
    if len(leaked) != LEAKS:
        fail("%d leaked attempts survived the flood, expected %d" % (len(leaked), LEAKS))
    for event in leaked:
        if event["close_reason"] != "fin" or "mail_from" not in event["evidence"]:
            fail("a leaking session lost its evidence: %s" % json.dumps(event))

    large, large_rss = run_sensor(args.binary, policy, capture, 1000000,
                                  os.path.join(args.work_dir, "large.ndjson"))
    if large[-1]["evictions"] != 0:
        fail("%d evictions with room for every attempt" % large[-1]["evictions"])
    print("flood: %d SYNs, %d attempts; --flows 1000: %d evictions, peak RSS %.1f MiB; "
          "--flows 1000000: 0 evictions, peak RSS %.1f MiB" %
          (SYNS, created, stats["evictions"], small_rss, large_rss))
    # The bound holds when memory follows the bound, not the flood: the small table must
    # stay far below the large one, and (without ASan's shadow memory) small in itself.
    if small_rss * 3 > large_rss:
        fail("peak RSS %.1f MiB with 1000 flows is not far below %.1f MiB with 1000000" %
             (small_rss, large_rss))
    if not args.sanitized and small_rss > 64:
        fail("peak RSS %.1f MiB with a 1000-flow bound" % small_rss)
    print("ok")


if __name__ == "__main__":
    main()
