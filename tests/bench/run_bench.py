#!/usr/bin/env python3
"""Throughput benchmark of op25b-watch (issues #7 and #22), side by side with its peers.

Generates four captures with gen_bench: the ISP mix (650-byte frames on average), the
host-rich mix (small frames among many distinct hosts: how the per-packet cost shows), a SYN
flood (every packet a new attempt, still open at the end) and the same flood blocked (the
ACL's silence seen, every attempt blocked within the capture). Each file is read once so it
sits in the page cache, then every tool runs on it several times, round robin, and the best
wall time of each is kept:

  pcap_loop            the bare libpcap read loop: the floor every reader is compared with
  pcap_loop --buffer   the same loop with the 64 KiB stdio buffer the sensor gives libpcap
                       when it reads on one core: what reading alone costs the sensor there
  state_floor          that buffered loop, the sensor's decoder and one lookup (and insert
                       when new) per TCP SYN in the sensor's flow table of the same size:
                       the least any stateful SYN tracker does, with no verdict or event
  op25b-watch          -q -o /dev/null, policy tests/bench/bench.yaml (limits.flows 2.5 M);
                       with a second core it reads the file ahead on it (file_prefetch.c)
  op25b-watch one core the same pinned to one CPU with taskset: no read-ahead thread
  op25b-watch bounded  the SYN flood again with --flows 100000: evictions, not a crash
  op25b-watch -k       the SYN flood to librdkafka's mock cluster (tests/kafka/mock_broker,
                       started here), timed until the sensor exits after every event was
                       delivered; the broker's end offsets are checked to grow by exactly
                       the number of events the sensor writes
  baseline             with --baseline BIN: another build (the one before a change) in the
                       same rounds, on every capture and to the broker, timed only
  op25b-watch summarized  the blocked flood under bench.yaml plus events: summarize:
                       [blocked]: one attempt_summary per subscriber instead of an attempt
                       event each (checked: at most one per subscriber and interval)
  ndpiReader           nDPI's reader (Debian libndpi-bin)
  tshark               -n -q -Y 'tcp.port == 25': a display filter makes tshark dissect
                       every packet (-q alone reads the file without dissecting it)

Wall time is taken around each process (start-up and the policy load included, alike for
all), peak RSS from wait4 (ru_maxrss of the child), both by the small measure helper. A
separate, untimed run of op25b-watch writes its events to a pipe, and the script checks
them against what the generator says it wrote: every packet and every attempt counted,
the verdicts docs/concepts.md implies, evictions where the bound is small.

Ratios are printed both ways: "ratio" is the bare loop's time over the tool's (issue #7's
targets), "x loop" the tool's time over the bare loop's (issue #22's). The targets are stated
in the output, but timing is not a test: the exit status is 1 only when a tool fails or a
count is wrong, never because a figure missed a target.

  run_bench.py                      full run (5 M mix packets, 2 M SYNs, best of 3)
  run_bench.py --smoke              tiny captures, one run: checks the pipeline (ctest)
  run_bench.py --packets 20000000   a larger mix
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
VERDICTS = ["allowed", "blocked", "leaked", "would_block", "unknown"]
SYN_TIMEOUT_US = 30 * 1000000  # timeouts.syn in bench.yaml
MIB = 1024.0

# Targets of issue #7, as ratios to the bare read loop and a memory ceiling.
MIX_TARGET = 0.8
FLOOD_TARGET = 0.2
FLOOD_LIVE_ATTEMPTS = 2000000
FLOOD_RSS_LIMIT_MIB = 1024.0
# Issue #22's, as multiples of the bare loop's time, and Kafka against /dev/null.
MIX_TIMES_LOOP = 1.25
FLOOD_TIMES_LOOP = 12.0
SUMMARIZED_TIMES_LOOP = 6.0
KAFKA_SHARE = 0.5
ONE_CORE = "op25b-watch on one core (taskset)"
SUMMARIZED = "op25b-watch summarize: [blocked]"
KAFKA = "op25b-watch -k (mock broker)"
BASELINE = "baseline"
KAFKA_TOPIC = "op25b.bench"
CAPTURES = ["mix", "hosts", "synflood", "synflood-blocked"]
EVENT_TYPES = ["attempt", "attempt_summary", "coverage", "sensor_stats", "asymmetric_routing",
               "spoofed_source", "triangular_spam", "inbound_acl_violation", "bot_suspect",
               "nonstandard_port_smtp", "open_submission", "pop_before_smtp",
               "third_party_submission"]


class Failure(Exception):
    pass


def parse_arguments():
    parser = argparse.ArgumentParser(
        description="op25b-watch throughput benchmark (issue #7)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build"),
                        help="CMake build directory (default: build/ of the source tree)")
    parser.add_argument("--work-dir", help="where captures and logs go "
                        "(default: BUILD_DIR/bench, or BUILD_DIR/bench-smoke with --smoke)")
    parser.add_argument("--sensor", help="op25b-watch binary (default: BUILD_DIR/op25b-watch)")
    parser.add_argument("--gen-bench", help="gen_bench binary")
    parser.add_argument("--pcap-loop", help="pcap_loop binary")
    parser.add_argument("--state-floor", help="state_floor binary")
    parser.add_argument("--measure", help="measure binary (times a command, takes its RSS)")
    parser.add_argument("--mock-broker", help="tests/kafka/mock_broker binary (the -k run)")
    parser.add_argument("--baseline", help="another op25b-watch (an earlier build) timed in "
                        "the same rounds, every attempt an event and to the broker: before "
                        "and after on one machine at one time")
    parser.add_argument("--no-kafka", action="store_true", help="skip the run to the mock broker")
    parser.add_argument("--policy", default=os.path.join(HERE, "bench.yaml"))
    parser.add_argument("--packets", type=int, help="ISP mix packets (default 5000000)")
    parser.add_argument("--synflood-packets", type=int,
                        help="SYN flood packets, one attempt each (default 2000000)")
    parser.add_argument("--small-flows", type=int,
                        help="the small flow bound of the second flood run (default 100000)")
    parser.add_argument("--runs", type=int, help="timed runs per tool, best kept (default 3)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny captures and one run: checks the pipeline, not the speed")
    parser.add_argument("--only", choices=CAPTURES, help="benchmark one capture")
    parser.add_argument("--no-peers", action="store_true", help="skip ndpiReader and tshark")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse captures of the same size already in the work directory")
    parser.add_argument("--json", help="also write the figures to this file as JSON")
    args = parser.parse_args()
    defaults = ((30000, 20000, 5000, 1) if args.smoke else (5000000, 2000000, 100000, 3))
    if args.packets is None:
        args.packets = defaults[0]
    if args.synflood_packets is None:
        args.synflood_packets = defaults[1]
    if args.small_flows is None:
        args.small_flows = defaults[2]
    if args.runs is None:
        args.runs = defaults[3]
    if min(args.packets, args.synflood_packets, args.small_flows, args.runs) < 1:
        parser.error("sizes and runs must be positive")
    if args.work_dir is None:
        args.work_dir = os.path.join(args.build_dir, "bench-smoke" if args.smoke else "bench")
    args.sensor = args.sensor or os.path.join(args.build_dir, "op25b-watch")
    bench_build = os.path.join(args.build_dir, "tests", "bench")
    args.gen_bench = args.gen_bench or os.path.join(bench_build, "gen_bench")
    args.pcap_loop = args.pcap_loop or os.path.join(bench_build, "pcap_loop")
    args.state_floor = args.state_floor or os.path.join(bench_build, "state_floor")
    args.measure = args.measure or os.path.join(bench_build, "measure")
    args.mock_broker = args.mock_broker or os.path.join(args.build_dir, "tests", "kafka",
                                                        "mock_broker")
    for name in ("sensor", "gen_bench", "pcap_loop", "state_floor", "measure"):
        path = getattr(args, name)
        if not os.access(path, os.X_OK):
            parser.error("%s not found at %s (build first, or pass --%s)"
                         % (name, path, name.replace("_", "-")))
    if not args.no_kafka and not os.access(args.mock_broker, os.X_OK):
        parser.error("mock_broker not found at %s (build first, pass --mock-broker, or "
                     "--no-kafka)" % args.mock_broker)
    return args


def generate(args, kind, packets):
    """Writes one capture (or reuses it) and returns what the generator says it holds."""
    path = os.path.join(args.work_dir, "bench-%s.pcap" % kind)
    manifest = path + ".json"
    if args.reuse and os.path.exists(path) and os.path.exists(manifest):
        with open(manifest) as source:
            written = json.load(source)
        if written.get("packets") == packets:
            print("reusing %s" % path)
            written["path"] = path
            return written
    started = time.perf_counter()
    result = subprocess.run([args.gen_bench, kind, str(packets), path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise Failure("gen_bench %s exited %d: %s" % (
            kind, result.returncode, result.stderr.decode(errors="replace").strip()))
    written = json.loads(result.stdout)
    with open(manifest, "w") as out:
        json.dump(written, out)
    written["path"] = path
    print("generated %s: %d packets in %.1f s" % (path, packets, time.perf_counter() - started))
    return written


def warm_up(path):
    """One plain read, so every tool finds the file in the page cache."""
    with open(path, "rb", buffering=0) as source:
        while source.read(8 << 20):
            pass


def measure(args, command, log_prefix):
    """Runs command once under the measure helper; returns (wall seconds, peak RSS MiB,
    exit status). The helper forks the command itself and takes ru_maxrss from wait4:
    forked from this Python process, the command would inherit its RSS as a starting peak
    (Linux keeps the peak across exec)."""
    result_path = log_prefix + ".measure"
    with open(log_prefix + ".out", "wb") as out, open(log_prefix + ".err", "wb") as err:
        status = subprocess.call([args.measure, result_path] + command, stdout=out,
                                 stderr=err, stdin=subprocess.DEVNULL)
    if status != 0:
        raise Failure("measure failed on %s: %s" % (" ".join(command),
                                                    read_log(log_prefix, ".err").strip()))
    with open(result_path) as source:
        exit_status, seconds, rss_kib = source.read().split()
    return float(seconds), int(rss_kib) / MIB, int(exit_status)


def read_log(log_prefix, suffix):
    with open(log_prefix + suffix, "rb") as source:
        return source.read().decode(errors="replace")


class Tool:
    """One command line to time on one capture, and how to check what it printed."""

    def __init__(self, name, command, check=None, flows=None, check_events=True, policy=None):
        self.name = name
        self.command = command
        self.check = check
        self.flows = flows  # op25b-watch: the flow bound in force
        self.check_events = check_events  # op25b-watch: its events are checked untimed
        self.policy = policy  # op25b-watch: its policy
        self.before = None  # called before each timed run, after with its result
        self.after = None
        self.times = []
        self.rss = []


class MockBroker:
    """librdkafka's mock cluster in its own process (tests/kafka/mock_broker), asked how many
    messages its topic holds before and after each run to the sensor."""

    def __init__(self, binary):
        self.process = subprocess.Popen([binary, "--topic", KAFKA_TOPIC, "--partitions", "3"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.bootstrap = self.process.stdout.readline().decode().strip()
        if not self.bootstrap:
            raise Failure("mock_broker printed no bootstrap address: %s" %
                          self.process.stderr.read().decode(errors="replace"))

    def count(self):
        self.process.stdin.write(("count %s\n" % KAFKA_TOPIC).encode())
        self.process.stdin.flush()
        answer = self.process.stdout.readline().decode().split()
        if len(answer) != 3 or answer[0] != "count":
            raise Failure("mock_broker answered %r to count" % " ".join(answer))
        return int(answer[2])

    def stop(self):
        try:
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
        except OSError:
            pass
        self.process.wait(timeout=30)


def check_pcap_loop(output, written):
    match = re.match(r"(\d+) packets", output)
    if match is None or int(match.group(1)) != written["packets"]:
        raise Failure("pcap_loop read %s packets of %d" % (
            match.group(1) if match else "?", written["packets"]))


def check_state_floor(output, written):
    match = re.match(r"(\d+) packets, (\d+) syns, (\d+) flows", output)
    if match is None or int(match.group(1)) != written["packets"]:
        raise Failure("state_floor read %s packets of %d" % (
            match.group(1) if match else "?", written["packets"]))
    # Every port-25 SYN is a TCP SYN and every attempt a flow (the mix has web SYNs too).
    syns, flows = int(match.group(2)), int(match.group(3))
    if syns < written["port25_syn_packets"] or flows < written["attempts"]:
        raise Failure("state_floor saw %d SYNs and kept %d flows; the capture has %d port-25 "
                      "SYNs and %d attempts" % (syns, flows, written["port25_syn_packets"],
                                                written["attempts"]))


def check_ndpi(output, written):
    match = re.search(r"IP packets:\s+(\d+)\s+of\s+(\d+) packets total", output)
    if match is None or int(match.group(2)) != written["packets"]:
        raise Failure("ndpiReader read %s packets of %d" % (
            match.group(2) if match else "?", written["packets"]))


def summary_policy(args):
    """bench.yaml with events: summarize: [blocked], written beside the captures."""
    path = os.path.join(args.work_dir, "bench-summary.yaml")
    with open(args.policy) as source:
        text = source.read()
    with open(path, "w") as out:
        out.write(text.rstrip("\n") + "\nevents:\n  summarize: [blocked]\n")
    return path


def kafka_tool(args, sensor, broker, name=KAFKA):
    """The flood to the mock broker: timed until the sensor exits, which it does once every
    event is delivered (--kafka-timeout generous, the producer's memory large enough that
    nothing is dropped); the broker's count must grow by the events the sensor writes."""
    tool = Tool(name, sensor[:-2] + ["-k", broker.bootstrap, "-t", KAFKA_TOPIC,
                                     "--kafka-queue-mb", "4096", "--kafka-timeout", "600s"],
                check_events=False)
    tool.deltas = []

    def before(_tool):
        tool.count_before = broker.count()

    def after(_tool):
        tool.deltas.append(broker.count() - tool.count_before)
    tool.before, tool.after = before, after
    return tool


def tools_for(args, written, broker):
    path = written["path"]
    kind = written["capture"]
    sensor = [args.sensor, "-q", "-c", args.policy, "-r", path, "-o", "/dev/null"]
    tools = [Tool("pcap_loop", [args.pcap_loop, path], check_pcap_loop),
             Tool("pcap_loop --buffer 65536", [args.pcap_loop, "--buffer", "65536", path],
                  check_pcap_loop),
             Tool("state_floor", [args.state_floor, "--buffer", "65536", path],
                  check_state_floor),
             Tool("op25b-watch", sensor, flows=None, policy=args.policy)]
    if shutil.which("taskset"):
        # The same command and output as above, so its events are not checked twice.
        tools.append(Tool(ONE_CORE, ["taskset", "-c", "0"] + sensor, check_events=False))
    if args.baseline:
        # Timed only: an earlier build may not know what the checks expect.
        tools.append(Tool(BASELINE, [args.baseline] + sensor[1:], check_events=False))
    if kind == "synflood":
        tools.append(Tool("op25b-watch --flows %d" % args.small_flows,
                          sensor + ["--flows", str(args.small_flows)],
                          flows=args.small_flows, policy=args.policy))
        if broker is not None:
            tools.append(kafka_tool(args, sensor, broker))
            if args.baseline:
                tools.append(kafka_tool(args, [args.baseline] + sensor[1:], broker,
                                        BASELINE + " -k"))
    if kind == "synflood-blocked":
        policy = summary_policy(args)
        tools.append(Tool(SUMMARIZED, [args.sensor, "-q", "-c", policy, "-r", path, "-o",
                                       "/dev/null"], policy=policy))
    if args.no_peers or kind == "synflood-blocked":
        return tools
    if shutil.which("ndpiReader"):
        # Without -q it prints a short summary (no per-flow lines) with the packet count.
        tools.append(Tool("ndpiReader", ["ndpiReader", "-i", path], check_ndpi))
    else:
        print("ndpiReader not installed (Debian libndpi-bin): skipped")
    if shutil.which("tshark"):
        tools.append(Tool("tshark -Y 'tcp.port == 25'",
                          ["tshark", "-n", "-q", "-r", path, "-Y", "tcp.port == 25"]))
        tools.append(Tool("tshark -q (reads, no dissection)",
                          ["tshark", "-n", "-q", "-r", path]))
    else:
        print("tshark not installed: skipped")
    return tools


class SensorRun:
    """What an untimed run wrote: attempt verdicts, the summaries, the final coverage
    attempts and sensor_stats."""

    def __init__(self):
        self.verdicts = {verdict: 0 for verdict in VERDICTS}
        self.coverage_attempts = 0
        self.stats = None
        self.summaries = 0
        self.summarized = {verdict: 0 for verdict in VERDICTS}
        self.summaries_per_interval = {}  # (subscriber, window_start) -> summaries

    def take_summary(self, event):
        self.summaries += 1
        for verdict in VERDICTS:
            self.summarized[verdict] += event.get(verdict, 0)
        key = (event["subscriber"], event["window_start"])
        self.summaries_per_interval[key] = self.summaries_per_interval.get(key, 0) + 1


def sensor_events(args, written, tool):
    """An untimed run of the tool's policy and bound with events on a pipe."""
    command = [args.sensor, "-q", "-c", tool.policy, "-r", written["path"], "-o", "-"]
    if tool.flows is not None:
        command += ["--flows", str(tool.flows)]
    run = SensorRun()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    verdict_pattern = re.compile(rb'"verdict":"([a-z_]+)"')
    for line in process.stdout:
        if line.startswith(b'{"type":"attempt"'):
            match = verdict_pattern.search(line)
            if match is None or match.group(1).decode() not in run.verdicts:
                raise Failure("attempt event without a known verdict: %s" % line[:200])
            run.verdicts[match.group(1).decode()] += 1
            continue
        event = json.loads(line)
        if event["type"] == "attempt_summary":
            run.take_summary(event)
        elif event.get("final") and event["type"] == "coverage":
            run.coverage_attempts += event["attempts"]
        elif event.get("final") and event["type"] == "sensor_stats":
            run.stats = event
    errors = process.stderr.read().decode(errors="replace")
    status = process.wait()
    if status != 0:
        raise Failure("%s exited %d: %s" % (" ".join(command), status, errors.strip()))
    if run.stats is None:
        raise Failure("no final sensor_stats event from %s" % " ".join(command))
    return run


def check_summarized(written, run):
    """The blocked flood summarized: no blocked attempt event, every one in a summary, at
    most one summary per subscriber and interval, and the counts agree."""
    problems = []
    folded = run.summarized["blocked"]
    if run.verdicts["blocked"] != 0:
        problems.append("%d blocked attempt events" % run.verdicts["blocked"])
    if folded != written["expect"]["blocked"]:
        problems.append("summaries hold %d blocked attempts, expected %d" % (
            folded, written["expect"]["blocked"]))
    if run.stats["attempts_summarized"] != folded:
        problems.append("attempts_summarized %d" % run.stats["attempts_summarized"])
    if run.stats["events_attempt_summary"] != run.summaries:
        problems.append("events_attempt_summary %d, %d read" % (
            run.stats["events_attempt_summary"], run.summaries))
    twice = sum(1 for count in run.summaries_per_interval.values() if count > 1)
    if twice:
        problems.append("%d subscribers with more than one summary in an interval" % twice)
    if problems:
        raise Failure("%s on %s: %s" % (SUMMARIZED, written["path"], "; ".join(problems)))


def events_written(stats):
    return sum(stats.get("events_" + kind, 0) for kind in EVENT_TYPES)


def check_sensor(args, written, flows, verdicts, coverage_attempts, stats):
    """What the sensor reported against what the generator wrote."""
    problems = []
    attempts = written["attempts"]
    expect = written["expect"]

    def same(what, got, wanted):
        if got != wanted:
            problems.append("%s: %d, expected %d" % (what, got, wanted))

    same("packets", stats["packets"], written["packets"])
    same("decode errors", stats["decode_truncated"] + stats["decode_malformed"] +
         stats["decode_unsupported"] + stats["decode_too_deep"], 0)
    same("flows_created", stats["flows_created"], attempts)
    same("attempt events", stats["events_attempt"], attempts)
    same("attempt events read", sum(verdicts.values()), attempts)
    same("attempts in final coverage", coverage_attempts, attempts)
    same("allowed", verdicts["allowed"], expect["allowed"])
    same("leaked", verdicts["leaked"], expect["leaked"])
    same("would_block", verdicts["would_block"], expect["would_block"])
    # Silent attempts turn blocked (no_reply) once timeouts.syn passes after their last SYN
    # within the capture, unknown otherwise; the ICMP- and reset-blocked ones always block.
    same("blocked + unknown", verdicts["blocked"] + verdicts["unknown"],
         expect["blocked"] + expect["silent"])
    if verdicts["blocked"] < expect["blocked"]:
        problems.append("blocked: %d, expected at least %d" % (verdicts["blocked"],
                                                                expect["blocked"]))
    if flows is None:
        same("evictions", stats["evictions"], 0)
    elif written["last_us"] - written["first_us"] < SYN_TIMEOUT_US:
        # Every attempt is still live when the next arrives: each one past the bound
        # evicts exactly one.
        same("evictions", stats["evictions"], max(0, attempts - flows))
    if problems:
        raise Failure("op25b-watch%s on %s: %s" % (
            "" if flows is None else " --flows %d" % flows, written["path"],
            "; ".join(problems)))


def describe(written):
    seconds = (written["last_us"] - written["first_us"]) / 1e6
    size = os.path.getsize(written["path"])
    packets = written["packets"]
    text = ("%s: %s packets, %.2f GB, %.2f s of packet time (%.0f kpps), mean frame %d bytes"
            % (written["path"], format(packets, ","), size / 1e9, seconds,
               packets / seconds / 1e3 if seconds > 0 else 0,
               (size - 24 - 16 * packets) / packets))
    text += ("\n  port-25 SYNs %.2f%% of packets, other port-25 packets %.2f%%, IPv6 %.1f%%, "
             "%s attempts" % (100.0 * written["port25_syn_packets"] / packets,
                              100.0 * (written["port25_packets"] - written["port25_syn_packets"])
                              / packets,
                              100.0 * written["ipv6_packets"] / packets,
                              format(written["attempts"], ",")))
    return text


def time_tools(args, written, tools, failures):
    """Every tool once per round, round robin, so drift on the machine touches every tool
    alike; the file is read again before each round in case the kernel reclaimed some of
    its cache meanwhile."""
    logs = os.path.join(args.work_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    for run in range(args.runs):
        warm_up(written["path"])
        for index, tool in enumerate(tools):
            prefix = os.path.join(logs, "%s-%d-run%d" % (written["capture"], index, run))
            if tool.before is not None:
                tool.before(tool)
            seconds, rss, status = measure(args, tool.command, prefix)
            if tool.after is not None:
                tool.after(tool)
            if status != 0:
                failures.append("%s exited %d on %s: %s" % (
                    " ".join(tool.command), status, written["path"],
                    read_log(prefix, ".err").strip()[-500:]))
                continue
            if tool.check is not None:
                try:
                    tool.check(read_log(prefix, ".out"), written)
                except Failure as failure:
                    failures.append(str(failure))
            tool.times.append(seconds)
            tool.rss.append(rss)


def check_tools(args, written, tools):
    """The untimed checks of every op25b-watch run; returns {tool name: counts}."""
    sensor_counts = {}
    plain = None
    for tool in tools:
        if not tool.name.startswith("op25b-watch") or not tool.check_events:
            continue
        run = sensor_events(args, written, tool)
        if tool.name == SUMMARIZED:
            check_summarized(written, run)
        else:
            check_sensor(args, written, tool.flows, run.verdicts, run.coverage_attempts,
                         run.stats)
        if tool.name == "op25b-watch":
            plain = run
        sensor_counts[tool.name] = {"verdicts": run.verdicts, "stats": run.stats,
                                    "summaries": run.summaries}
    for tool in tools:
        if tool.name in (KAFKA, BASELINE + " -k") and plain is not None:
            # The same input and policy: the same events (an earlier build writes as many
            # lines), every one of them delivered.
            wanted = events_written(plain.stats)
            wrong = [delta for delta in tool.deltas if delta != wanted]
            if wrong:
                raise Failure("%s: the broker took %s messages, the sensor writes %d events" %
                              (tool.name, wrong, wanted))
            sensor_counts[tool.name] = {"delivered": tool.deltas, "events": wanted}
    return sensor_counts


def print_rows(written, tools, sensor_counts):
    floor = min(tools[0].times) if tools[0].times else None
    rows = []
    print("%-36s %9s %12s %7s %7s %13s" % ("tool", "seconds", "packets/s", "ratio", "x loop",
                                            "peak RSS MiB"))
    for tool in tools:
        if not tool.times:
            print("%-36s %9s" % (tool.name, "failed"))
            continue
        best = min(tool.times)
        rate = written["packets"] / best
        ratio = floor / best if floor else 0.0
        times = best / floor if floor else 0.0
        print("%-36s %9.3f %12s %7.3f %7.2f %13.1f" % (
            tool.name, best, format(round(rate), ","), ratio, times, max(tool.rss)))
        row = {"tool": tool.name, "seconds": best, "all_seconds": tool.times,
               "packets_per_second": rate, "ratio": ratio, "times_loop": times,
               "peak_rss_mib": max(tool.rss)}
        if tool.name in sensor_counts and "events" in sensor_counts[tool.name]:
            row["events_per_second"] = sensor_counts[tool.name]["events"] / best
        rows.append(row)
    for name, counts in sensor_counts.items():
        if "delivered" in counts:
            print("%s: %s events delivered in each run" % (
                name, format(counts["events"], ",")))
            continue
        stats = counts["stats"]
        print("%s: %s attempts (%s), flows_created %s, evictions %s, events_attempt %s%s" % (
            name, format(sum(counts["verdicts"].values()) + stats.get("attempts_summarized", 0),
                         ","),
            ", ".join("%s %s" % (verdict, format(count, ","))
                      for verdict, count in counts["verdicts"].items()),
            format(stats["flows_created"], ","), format(stats["evictions"], ","),
            format(stats["events_attempt"], ","),
            ", attempt_summary %s (%s attempts)" % (
                format(counts["summaries"], ","), format(stats["attempts_summarized"], ","))
            if "attempts_summarized" in stats else ""))
    return rows


def bench_capture(args, written, broker, results, failures):
    print()
    print("== %s" % describe(written))
    tools = tools_for(args, written, broker)
    load_before = os.getloadavg()[0]
    time_tools(args, written, tools, failures)
    try:
        sensor_counts = check_tools(args, written, tools)
    except Failure as failure:
        failures.append(str(failure))
        sensor_counts = {}
    load_after = os.getloadavg()[0]
    print("load average %.2f before, %.2f after (other work on the machine skews the figures)"
          % (load_before, load_after))
    rows = print_rows(written, tools, sensor_counts)
    results[written["capture"]] = {"capture": dict(written),
                                   "load_average": [load_before, load_after],
                                   "tools": rows, "sensor": sensor_counts}
    return rows


def verdict_line(ok, text):
    return "%s  %s" % ("PASS" if ok else "MISS", text)


def print_targets(args, results):
    """Issue #7's targets, stated; they never change the exit status."""
    print()
    print("== targets (issue #7; timing is reported, not tested)")
    if args.smoke:
        print("(smoke sizes: start-up dominates, so these ratios say nothing about speed)")

    def row(capture, name):
        for entry in results.get(capture, {}).get("tools", []):
            if entry["tool"] == name:
                return entry
        return None

    lines = []
    mix = row("mix", "op25b-watch")
    if mix is not None:
        lines.append(verdict_line(mix["ratio"] >= MIX_TARGET,
                                  "ISP mix: op25b-watch at %.3fx the bare read loop (target %.1fx)"
                                  % (mix["ratio"], MIX_TARGET)))
    one_core = row("mix", ONE_CORE)
    if one_core is not None:
        lines.append("info  ISP mix: op25b-watch on one core at %.3fx the bare read loop"
                     % one_core["ratio"])
    flood = row("synflood", "op25b-watch")
    if flood is not None:
        lines.append(verdict_line(flood["ratio"] >= FLOOD_TARGET,
                                  "SYN flood: op25b-watch at %.3fx the bare read loop "
                                  "(target %.1fx)" % (flood["ratio"], FLOOD_TARGET)))
        counts = results["synflood"]["sensor"].get("op25b-watch")
        live = counts["stats"]["flows_created"] - counts["stats"]["evictions"] if counts else 0
        if live >= FLOOD_LIVE_ATTEMPTS:
            lines.append(verdict_line(flood["peak_rss_mib"] < FLOOD_RSS_LIMIT_MIB,
                                      "SYN flood: peak RSS %.0f MiB with %s live attempts "
                                      "(target under %.0f MiB for 2 M)"
                                      % (flood["peak_rss_mib"], format(live, ","),
                                         FLOOD_RSS_LIMIT_MIB)))
        else:
            lines.append("n/a   SYN flood memory target needs %s live attempts; this run had %s"
                         % (format(FLOOD_LIVE_ATTEMPTS, ","), format(live, ",")))
    bounded = row("synflood", "op25b-watch --flows %d" % args.small_flows)
    counts = results.get("synflood", {}).get("sensor", {}).get(
        "op25b-watch --flows %d" % args.small_flows)
    if bounded is not None and counts is not None:
        lines.append(verdict_line(True, "SYN flood with --flows %s: %s evictions counted, "
                                  "peak RSS %.0f MiB, exit 0" % (
                                      format(args.small_flows, ","),
                                      format(counts["stats"]["evictions"], ","),
                                      bounded["peak_rss_mib"])))
    state_floor = row("synflood", "state_floor")
    if state_floor is not None:
        lines.append("info  SYN flood: state_floor (decode, one flow-table lookup and insert per "
                     "SYN, no verdict or event) at %.3fx" % state_floor["ratio"])
    one_core = row("synflood", ONE_CORE)
    if one_core is not None:
        lines.append("info  SYN flood: op25b-watch on one core at %.3fx the bare read loop"
                     % one_core["ratio"])
    for line in lines:
        print(line)
    print_targets_22(results)


def print_targets_22(results):
    """Issue #22's targets, as multiples of the bare loop's time: stated, never tested."""
    print()
    print("== targets (issue #22: the tool's time over the bare loop's, best of each)")

    def row(capture, name):
        for entry in results.get(capture, {}).get("tools", []):
            if entry["tool"] == name:
                return entry
        return None

    for capture, label in (("mix", "ISP mix"), ("hosts", "host-rich mix")):
        entry = row(capture, "op25b-watch")
        if entry is not None:
            print(verdict_line(entry["times_loop"] <= MIX_TIMES_LOOP,
                               "%s: op25b-watch at %.2fx the bare loop (target at most %.2fx)"
                               % (label, entry["times_loop"], MIX_TIMES_LOOP)))
    flood = row("synflood", "op25b-watch")
    if flood is not None:
        print(verdict_line(flood["times_loop"] <= FLOOD_TIMES_LOOP,
                           "SYN flood, every attempt an event: %.1fx the bare loop (target at "
                           "most %.0fx)" % (flood["times_loop"], FLOOD_TIMES_LOOP)))
    baseline = row("synflood", BASELINE)
    if flood is not None and baseline is not None:
        print("info  SYN flood, every attempt an event: --baseline at %.1fx the bare loop, "
              "this build at %.1fx" % (baseline["times_loop"], flood["times_loop"]))
    summarized = row("synflood-blocked", SUMMARIZED)
    plain = row("synflood-blocked", "op25b-watch")
    if summarized is not None:
        print(verdict_line(summarized["times_loop"] <= SUMMARIZED_TIMES_LOOP,
                           "blocked SYN flood, summarize: [blocked]: %.1fx the bare loop "
                           "(target at most %.0fx; every attempt an event: %s), peak RSS "
                           "%.0f MiB" % (summarized["times_loop"], SUMMARIZED_TIMES_LOOP,
                                         "%.1fx" % plain["times_loop"] if plain else "n/a",
                                         summarized["peak_rss_mib"])))
    kafka = row("synflood", KAFKA)
    if kafka is not None and flood is not None and "events_per_second" in kafka:
        null_rate = results["synflood"]["sensor"][KAFKA]["events"] / flood["seconds"]
        share = kafka["events_per_second"] / null_rate
        print(verdict_line(share >= KAFKA_SHARE,
                           "SYN flood to the mock broker: %s events/s delivered, %.2f of the "
                           "%s events/s to /dev/null (target at least %.1f)" % (
                               format(round(kafka["events_per_second"]), ","), share,
                               format(round(null_rate), ","), KAFKA_SHARE)))


def main():
    args = parse_arguments()
    os.makedirs(args.work_dir, exist_ok=True)
    print("op25b-watch benchmark%s: %d runs per tool, best kept; %d CPUs" % (
        " (smoke)" if args.smoke else "", args.runs, os.cpu_count() or 0))
    failures = []
    results = {}
    sizes = {"mix": args.packets, "hosts": args.packets, "synflood": args.synflood_packets,
             "synflood-blocked": args.synflood_packets}
    try:
        written = [generate(args, kind, sizes[kind]) for kind in CAPTURES
                   if args.only in (None, kind)]
    except Failure as failure:
        print("FAIL: %s" % failure)
        return 1
    broker = None
    if not args.no_kafka and any(w["capture"] == "synflood" for w in written):
        broker = MockBroker(args.mock_broker)
    try:
        for capture in written:
            try:
                bench_capture(args, capture, broker, results, failures)
            except Failure as failure:
                failures.append(str(failure))
    finally:
        if broker is not None:
            broker.stop()
    print_targets(args, results)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    if failures:
        print()
        for failure in failures:
            print("FAIL: %s" % failure)
        return 1
    print()
    print("all tools ran and every count matched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
