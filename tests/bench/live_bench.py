#!/usr/bin/env python3
"""Live-capture benchmark (issue #7): how many packets per second the sensor takes from a
live interface, and what each costs it in CPU time.

In a network namespace of its own (unshare --net, so root or CAP_NET_ADMIN), a veth pair:
`blast` sends the ISP mix of run_bench.py (build/bench/bench-mix.pcap, made by
run_bench.py) into op25b0 as fast as the kernel takes it, round after round, while
op25b-watch captures on op25b1 (TPACKET_V3, the policy's prefilter on). At the end it
prints what was sent and how fast, what the sensor counted and dropped (its final
sensor_stats), how many attempt events it wrote (every line of the events file must be one
JSON object: with --workers the workers share it), and the sensor's CPU time from wait4:
packets per CPU-second is what one core handles. On a 2-core machine the sender takes one core, so the send rate is a floor
of what the sensor can take, not its ceiling; a drop count of 0 says it kept up.

  live_bench.py [--frames N] [--workers N] [--no-prefilter]
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))


def inside(args):
    # A tagged full-size frame is 1518 bytes: the MTU must take 1504 and more.
    for command in (["ip", "link", "add", "op25b0", "type", "veth", "peer", "name", "op25b1"],
                    ["ip", "link", "set", "op25b0", "mtu", "9000", "up"],
                    ["ip", "link", "set", "op25b1", "mtu", "9000", "up"]):
        subprocess.run(command, check=True)
    events = tempfile.NamedTemporaryFile(suffix=".ndjson", delete=False).name
    command = [args.sensor, "-q", "-c", args.policy, "-i", "op25b1", "-o", events]
    if args.workers > 1:
        command += ["--workers", str(args.workers)]
    if args.no_prefilter:
        command.append("--no-prefilter")
    sensor = subprocess.Popen(command)
    time.sleep(1.5)
    blast = subprocess.run([args.blast, "op25b0", args.capture, str(args.frames)],
                           capture_output=True, text=True)
    if blast.returncode != 0:
        sensor.send_signal(signal.SIGTERM)
        sensor.wait()
        print("blast failed: %s" % blast.stderr.strip())
        return 1
    time.sleep(2.0)  # the last TPACKET_V3 blocks reach the sensor
    sensor.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(sensor.pid, 0)
    sensor.returncode = os.waitstatus_to_exitcode(status)
    if sensor.returncode != 0:
        print("op25b-watch exited %d" % sensor.returncode)
        return 1
    sent, seconds = blast.stdout.split()[0], blast.stdout.split()[3]
    sent, seconds = int(sent), float(seconds)
    # Every line whole (the workers share the file) and every attempt written.
    finals = []
    lines_read, attempts = 0, 0
    with open(events) as lines:
        for line in lines:
            lines_read += 1
            try:
                event = json.loads(line)
            except ValueError:
                print("line %d of the events is not JSON: %.80r" % (lines_read, line))
                return 1
            if event["type"] == "attempt":
                attempts += 1
            elif event["type"] == "sensor_stats" and event.get("final"):
                finals.append(event)
    os.unlink(events)
    packets = sum(e["packets"] for e in finals)
    drops = sum(e.get("drops", 0) for e in finals)
    # With --workers the children's CPU time is in RUSAGE_CHILDREN of the parent sensor,
    # which wait4 reports for it as a whole.
    cpu = usage.ru_utime + usage.ru_stime
    print("sent %s frames in %.2f s: %s frames/s (the sender's rate, on its own core)"
          % (format(sent, ","), seconds, format(round(sent / seconds), ",")))
    print("op25b-watch%s: counted %s packets, %s drops, %.2f s CPU (user %.2f, system %.2f)"
          % (" --workers %d" % args.workers if args.workers > 1 else "", format(packets, ","),
             format(drops, ","), cpu, usage.ru_utime, usage.ru_stime))
    print("events: %s lines, each one JSON object; %s attempt events"
          % (format(lines_read, ","), format(attempts, ",")))
    # With workers, exhausted also counts messages a full worker inbox refused.
    print("bounds: %s flows evicted, %s detector entries evicted, %s exhausted"
          % tuple(format(sum(e.get(field, 0) for e in finals), ",")
                  for field in ("evictions", "detector_evictions", "detector_exhausted")))
    if cpu > 0:
        print("one core handles about %s packets/s of this mix live (packets / CPU seconds)"
              % format(round(packets / cpu), ","))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    build = os.path.join(SOURCE_DIR, "build")
    parser.add_argument("--sensor", default=os.path.join(build, "op25b-watch"))
    parser.add_argument("--blast", default=os.path.join(build, "tests", "bench", "blast"))
    parser.add_argument("--capture", default=os.path.join(build, "bench", "bench-mix.pcap"))
    parser.add_argument("--policy", default=os.path.join(HERE, "bench.yaml"))
    parser.add_argument("--frames", type=int, default=3000000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-prefilter", action="store_true")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        sys.exit(inside(args))
    if not os.path.exists(args.capture):
        sys.exit("%s is missing: run tests/bench/run_bench.py --only mix first" % args.capture)
    command = ["unshare", "--net", sys.executable, os.path.abspath(__file__), "--inside"]
    for name in ("sensor", "blast", "capture", "policy", "frames", "workers"):
        command += ["--" + name, str(getattr(args, name))]
    if args.no_prefilter:
        command.append("--no-prefilter")
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()
