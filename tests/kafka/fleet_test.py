#!/usr/bin/env python3
"""op25b-correlate end to end, against librdkafka's mock cluster (mock_broker), with the two
captures of the fleet scenario (tests/gen/scenarios_fleet.c): one story seen edge-side of
the blocking points (scenario-fleet-edge.pcap, fleet-edge.yaml) and core-side
(scenario-fleet-core.pcap, fleet-core.yaml). Both sensors write to one topic of 4
partitions; the correlator reads it with the fleet policy (tests/scenarios/fleet.yaml).

  join      a batch run (--exit-at-end, -o): every case of the story comes out as
            docs/fleet.md says (held, leaked, edge-unknown resolved by the core either way,
            the reused port as two attempts, IPv6, allowed, would_block, the edge's blocked
            overruled by the core, a pool no core sensor carries), fleet_coverage counts each
            attempt once, the output is the reviewed golden tests/kafka/fleet.golden.ndjson
            (sorted; --regen rewrites it), and the sensor whose capture is replayed later
            (here: core first, edge after) still joins
  group     two correlators in one group, each given partitions, reading the sensors live:
            the same fleet_attempt set as one correlator; their --metrics count every
            attempt once between them, by pool, point and verdict, with no lag left
  takeover  two correlators with --output-topic, the sensors fed their captures in two
            halves; after the first half the member that has written is killed (SIGKILL),
            the second half follows, the other member takes its partitions over: a
            read_committed reader sees every verdict exactly once, and the coverage counts
            each attempt once
  metrics   one correlator's --metrics, scraped from its start by Debian's Prometheus
            while the sensors write: every series of the dashboards' contract
            (dashboards/README.md, "The correlator's metrics": names, types, labels) is
            served at 0 before any event, for every dynamic pool, its point, its IP
            versions and every verdict, and every blocking point; once all is decided the
            attempts agree with the fleet_attempt lines by pool, point, version and
            verdict, op25b_fleet_leaks_total and op25b_fleet_held_total with their
            failed_at and held_at, the lag is 0 on every partition; every query of the
            fleet dashboard (dashboards/op25b-fleet.json) returns data through Prometheus,
            for every point and pool and for one of each, its variables list the policy's
            names, and the OP25BFleetLeak alert fires for exactly the points that leaked
            (helpers of tests/e2e/metrics_test.py)
  cli       --check, a policy without sensors:, bad usage, an output topic with too few
            partitions

Waits are on observable state (a log line, messages on a topic) with timeouts; nothing is
decided by a sleep.
"""
import argparse
import collections
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import socket
import time
import urllib.request

ARGS = None
TOPIC = "op25b.events"
OUTPUT_TOPIC = "op25b.fleet"
PARTITIONS = 4
FORMAT = "%p\\t%o\\t%k\\t%h\\t%S\\t%s\\n"
# Short fetch waits, a short session: a killed member's partitions move within seconds.
FAST = ["-X", "fetch.wait.max.ms=10", "-X", "fetch.error.backoff.ms=10"]
GROUP_FAST = FAST + ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"]
SPLIT_SECONDS = 100.0  # the first half of each capture: packets before 09:01:40
BASE_SECONDS = 1768467600

# What each attempt of the story must come out as (docs/fleet.md): src_ip, src_port, and
# for the reused port the second connection's start, -> verdict, reason, held_at,
# failed_at, seen_by.
EDGE, CORE = "fleet-edge", "fleet-core"
EXPECTED = {
    ("198.51.100.60", 45001, None): ("blocked", "absent_core_side", "bras-east", None, [EDGE]),
    ("198.51.100.61", 45002, None): ("leaked", "core_side_seen", None, ["bras-east"],
                                     [EDGE, CORE]),
    ("198.51.101.30", 45003, None): ("leaked", "core_side_seen", None, ["dsl-edge"],
                                     [EDGE, CORE]),
    ("198.51.101.31", 45004, None): ("blocked", "absent_core_side", "dsl-edge", None, [EDGE]),
    ("198.51.100.62", 45005, "09:00:50"): ("blocked", "absent_core_side", "bras-east", None,
                                           [EDGE]),
    ("198.51.100.62", 45005, "09:01:10"): ("leaked", "core_side_seen", None, ["bras-east"],
                                           [EDGE, CORE]),
    ("2001:db8:1000:5::60", 45006, None): ("blocked", "absent_core_side", "bras-east", None,
                                           [EDGE]),
    ("2001:db8:1000:6::61", 45007, None): ("leaked", "core_side_seen", None, ["bras-east"],
                                           [EDGE, CORE]),
    ("198.51.100.64", 45008, None): ("allowed", "msa", None, None, [EDGE, CORE]),
    ("198.51.100.63", 45009, None): ("leaked", "core_side_seen", None, ["bras-east"],
                                     [EDGE, CORE]),
    ("198.51.102.20", 45010, None): ("would_block", "planned", None, None, [EDGE, CORE]),
    ("198.51.101.140", 45011, None): ("unknown", "no_core_side_sensor", None, None, [EDGE]),
}
SENSORS = (("fleet-edge.yaml", "scenario-fleet-edge.pcap"),
           ("fleet-core.yaml", "scenario-fleet-core.pcap"))


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def wait_for(what, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    fail("timed out after %d s waiting for %s" % (timeout, what))


class MockBroker:
    def __init__(self):
        self.process = subprocess.Popen(
            [ARGS.mock_broker, "--topic", TOPIC, "--partitions", str(PARTITIONS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            fail("mock_broker printed no bootstrap address")

    def create(self, topic, partitions):
        order = "create %s %d" % (topic, partitions)
        self.process.stdin.write(order + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok " + order:
            fail("mock_broker refused: " + order)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def scenario(*parts):
    return os.path.join(ARGS.source_dir, "tests", "scenarios", *parts)


def run_sensor(broker, policy, capture):
    result = subprocess.run([ARGS.binary, "-q", "-c", scenario(policy), "-r", capture, "-k",
                             broker.address, "-o", "/dev/null"],
                            cwd=os.path.join(ARGS.source_dir, "pcaps"), timeout=60,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        fail("the sensor (%s) exited %d: %s" % (policy, result.returncode,
                                               result.stderr.decode(errors="replace")))


def correlate_command(broker, *extra):
    return [ARGS.correlate, "-c", scenario("fleet.yaml"), "-k", broker.address] + \
        list(extra)


def consume(broker, topic):
    """[(partition, offset, key, headers, value)] of every message, read_committed."""
    result = subprocess.run([ARGS.kcat, "-C", "-b", broker.address, "-t", topic, "-e", "-q",
                             "-X", "isolation.level=read_committed"] + FAST + ["-f", FORMAT],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if result.returncode != 0:
        fail("kcat failed: " + result.stderr.decode(errors="replace"))
    data, messages, at = result.stdout, [], 0
    while at < len(data):
        fields = []
        for _ in range(5):
            tab = data.index(b"\t", at)
            fields.append(data[at:tab].decode())
            at = tab + 1
        length = int(fields[4])
        messages.append((int(fields[0]), int(fields[1]), fields[2], fields[3],
                         data[at:at + length].decode()))
        at += length + 1
    return messages


def attempt_key(event):
    start = event["ts"][11:19] if event["src_ip"] == "198.51.100.62" else None
    return (event["src_ip"], event["src_port"], start)


def check_story(lines, where):
    """Every case as documented, each once; coverage counts each attempt once."""
    events = [json.loads(line) for line in lines]
    attempts = [e for e in events if e["type"] == "fleet_attempt"]
    seen = collections.Counter(attempt_key(e) for e in attempts)
    for key, count in seen.items():
        if count != 1:
            fail("%s: %s was written %d times" % (where, key, count))
    if set(seen) != set(EXPECTED):
        fail("%s: attempts %s missing, %s unexpected" % (
            where, sorted(set(EXPECTED) - set(seen), key=str),
            sorted(set(seen) - set(EXPECTED), key=str)))
    tally = collections.Counter()
    for event in attempts:
        want = EXPECTED[attempt_key(event)]
        got = (event["verdict"], event["reason"], event.get("held_at"), event.get("failed_at"),
               event["seen_by"])
        if got != want:
            fail("%s: %s came out %s, documented %s" % (where, attempt_key(event), got, want))
        tally[(event["pool"], event["ip_version"], event["verdict"])] += 1
    counted = collections.Counter()
    for event in events:
        if event["type"] != "fleet_coverage":
            continue
        total = 0
        for verdict in ("allowed", "blocked", "leaked", "would_block", "unknown"):
            counted[(event["pool"], event["ip_version"], verdict)] += event[verdict]
            total += event[verdict]
        if total != event["attempts"]:
            fail("%s: a fleet_coverage whose verdicts do not add up: %s" % (where, event))
    counted = +counted
    if counted != tally:
        fail("%s: fleet_coverage counts %s, the attempts are %s" % (where, dict(counted),
                                                                   dict(tally)))
    return attempts


def golden_path():
    return os.path.join(ARGS.source_dir, "tests", "kafka", "fleet.golden.ndjson")


# ---- join ----

def test_join():
    with MockBroker() as broker, tempfile.TemporaryDirectory() as work:
        # The core sensor's capture is replayed first, the edge's after it: clocks are
        # per sensor, so the join does not care which came when.
        for policy, capture in reversed(SENSORS):
            run_sensor(broker, policy, capture)
        output = os.path.join(work, "fleet.ndjson")
        started = time.monotonic()
        result = subprocess.run(correlate_command(broker, "--exit-at-end", "-o", output) + FAST,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if result.returncode != 0:
            fail("op25b-correlate exited %d: %s" % (result.returncode,
                                                    result.stderr.decode(errors="replace")))
        with open(output) as handle:
            lines = handle.read().splitlines()
        attempts = check_story(lines, "batch run")
        lines = sorted(lines)
        if ARGS.regen:
            with open(golden_path(), "w") as handle:
                handle.write("\n".join(lines) + "\n")
            print("wrote %s (%d lines): review it before committing" % (golden_path(),
                                                                       len(lines)))
            return
        with open(golden_path()) as handle:
            golden = handle.read().splitlines()
        if lines != golden:
            fail("the output (sorted) differs from tests/kafka/fleet.golden.ndjson:\n" +
                 "\n".join(sorted(set(lines) ^ set(golden))))
        print("join: %d attempts as documented, coverage counts each once, equal to the "
              "golden (%.1f s)" % (len(attempts), time.monotonic() - started))


# ---- group and takeover ----

class Correlator:
    def __init__(self, broker, work, name, *extra):
        self.log = os.path.join(work, name + ".log")
        self.name = name
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(correlate_command(broker, "-v", *extra) + GROUP_FAST,
                                            stdout=subprocess.DEVNULL, stderr=log)

    def text(self):
        with open(self.log) as handle:
            return handle.read()

    def partitions(self):
        """The partitions it holds now, by its last assignment line."""
        if self.process.poll() is not None and self.process.returncode != -signal.SIGKILL:
            fail("%s exited %d: %s" % (self.name, self.process.returncode, self.text()))
        held = None
        for line in self.text().splitlines():
            for word in ("assigned", "revoked"):
                marker = "info: %s partitions " % word
                if marker in line:
                    listed = line.split(marker, 1)[1]
                    held = set() if word == "revoked" or listed == "(none)" else \
                        {int(p) for p in listed.split(",")}
        return held

    def stop(self, how=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            status = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail("%s did not stop: %s" % (self.name, self.text()))
        if how == signal.SIGTERM and status != 0:
            fail("%s exited %d: %s" % (self.name, status, self.text()))


def both_assigned(first, second):
    held = (first.partitions(), second.partitions())
    return all(held) and held[0] | held[1] == set(range(PARTITIONS)) and not held[0] & held[1]


def golden_attempts():
    with open(golden_path()) as handle:
        return sorted(line for line in handle.read().splitlines()
                      if json.loads(line)["type"] == "fleet_attempt")


def output_attempts(broker):
    return [m for m in consume(broker, OUTPUT_TOPIC) if '"type":"fleet_attempt"' in m[4]]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port):
    """{(name, labels): value} of a /metrics page."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as page:
        text = page.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            samples[name_labels] = float(value)
    return samples


def check_metrics(ports, attempts):
    """The members' metrics add up to the attempts written, each once."""
    pages = [scrape(port) for port in ports]
    by_verdict = collections.Counter()
    for page in pages:
        for name, value in page.items():
            if name.startswith("op25b_fleet_attempts_total{"):
                labels = dict(part.split("=", 1) for part in name[27:-1].split(","))
                by_verdict[(labels["pool"].strip('"'), labels["blocking_point"].strip('"'),
                            labels["verdict"].strip('"'))] += int(value)
            if name.startswith("op25b_fleet_consumer_lag{") and value != 0:
                fail("%s is %d after every attempt was written" % (name, value))
    want = collections.Counter((e["pool"], e.get("blocking_point", "(none)"), e["verdict"])
                               for e in attempts)
    if +by_verdict != want:
        fail("the members' op25b_fleet_attempts_total add up to %s, the attempts are %s" %
             (dict(+by_verdict), dict(want)))
    if not any(name.startswith("op25b_fleet_coverage_ratio{") for p in pages for name in p):
        fail("no op25b_fleet_coverage_ratio")
    lags = sum(1 for p in pages for name in p if name.startswith("op25b_fleet_consumer_lag{"))
    if lags != PARTITIONS:
        fail("%d partitions with a consumer lag, not %d" % (lags, PARTITIONS))


def test_group():
    with MockBroker() as broker, tempfile.TemporaryDirectory() as work:
        broker.create(OUTPUT_TOPIC, PARTITIONS)
        ports = [free_port(), free_port()]
        first = Correlator(broker, work, "first", "--output-topic", OUTPUT_TOPIC,
                           "--metrics", str(ports[0]))
        wait_for("the first member's assignment", lambda: first.partitions())
        second = Correlator(broker, work, "second", "--output-topic", OUTPUT_TOPIC,
                            "--metrics", str(ports[1]))
        wait_for("both members holding partitions", lambda: both_assigned(first, second))
        held = (sorted(first.partitions()), sorted(second.partitions()))
        for policy, capture in SENSORS:
            run_sensor(broker, policy, capture)
        want = golden_attempts()
        wait_for("%d fleet_attempt messages" % len(want),
                 lambda: len(output_attempts(broker)) >= len(want))
        # The metrics are published a few times a second: wait until they say it all.
        attempts = [json.loads(m[4]) for m in output_attempts(broker)]
        wait_for("the metrics to count every attempt",
                 lambda: sum(v for p in ports for n, v in scrape(p).items()
                             if n.startswith("op25b_fleet_attempts_total{")) >= len(want))
        check_metrics(ports, attempts)
        first.stop()
        second.stop()
        got = output_attempts(broker)
        values = sorted(m[4] for m in got)
        if values != want:
            fail("two members wrote a set other than one correlator's:\n" +
                 "\n".join(sorted(set(values) ^ set(want))))
        writers = {m[0] for m in got}
        print("group: members held %s and %s; %d fleet_attempt, the same set as one "
              "correlator, from partitions %s" % (held[0], held[1], len(got), sorted(writers)))


def split_capture(name):
    """(header and the first half's records, the rest) of a classic pcap."""
    with open(os.path.join(ARGS.source_dir, "pcaps", name), "rb") as handle:
        data = handle.read()
    at, split = 24, None
    while at < len(data):
        seconds, _, captured, _ = struct.unpack("<IIII", data[at:at + 16])
        if split is None and seconds - BASE_SECONDS >= SPLIT_SECONDS:
            split = at
        at += 16 + captured
    return data[:split], data[split:]


def test_takeover():
    with MockBroker() as broker, tempfile.TemporaryDirectory() as work:
        broker.create(OUTPUT_TOPIC, PARTITIONS)
        members = [Correlator(broker, work, "first", "--output-topic", OUTPUT_TOPIC)]
        wait_for("the first member's assignment", lambda: members[0].partitions())
        members.append(Correlator(broker, work, "second", "--output-topic", OUTPUT_TOPIC))
        wait_for("both members holding partitions", lambda: both_assigned(*members))
        sensors, rests = [], []
        for policy, capture in SENSORS:
            first_half, rest = split_capture(capture)
            process = subprocess.Popen([ARGS.binary, "-q", "-c", scenario(policy), "-r", "-",
                                        "-k", broker.address, "-o", "/dev/null"],
                                       stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                       cwd=os.path.join(ARGS.source_dir, "pcaps"))
            process.stdin.write(first_half)
            process.stdin.flush()
            sensors.append(process)
            rests.append(rest)

        def a_writer():
            written = {m[0] for m in output_attempts(broker)}
            for member in members:
                if member.partitions() & written:
                    return member
            return None
        victim = wait_for("a member writing from the first halves", a_writer)
        survivor = members[1] if victim is members[0] else members[0]
        before = len(output_attempts(broker))
        victim.stop(signal.SIGKILL)
        for process, rest in zip(sensors, rests):
            process.stdin.write(rest)
            process.stdin.close()
        for process in sensors:
            if process.wait(timeout=60) != 0:
                fail("a sensor exited %d: %s" % (process.returncode,
                                                 process.stderr.read().decode()))
        wait_for("the survivor taking every partition",
                 lambda: survivor.partitions() == set(range(PARTITIONS)), timeout=90)
        want = golden_attempts()
        wait_for("%d fleet_attempt messages" % len(want),
                 lambda: len(output_attempts(broker)) >= len(want), timeout=90)
        survivor.stop()
        messages = consume(broker, OUTPUT_TOPIC)
        lines = [m[4] for m in messages]
        check_story(lines, "read_committed after the takeover")
        values = sorted(line for line in lines if '"type":"fleet_attempt"' in line)
        if values != want:
            fail("after the takeover the verdicts differ from one correlator's:\n" +
                 "\n".join(sorted(set(values) ^ set(want))))
        resumed = [line for line in survivor.text().splitlines() if "resuming at" in line]
        if not resumed:
            fail("the survivor never resumed from the output: " + survivor.text())
        print("takeover: %d fleet_attempt written before the kill, %d after; every verdict "
              "once; the survivor: %s" % (before, len(values) - before, "; ".join(
                  line.split("info: ", 1)[1] for line in resumed)))


# ---- metrics ----

def metrics_helpers(work):
    """tests/e2e/metrics_test.py as a module: its exposition parser, contract reader,
    Prometheus and dashboard helpers. Its check() gathers failures in .failures."""
    import importlib.util
    path = os.path.join(ARGS.source_dir, "tests", "e2e", "metrics_test.py")
    spec = importlib.util.spec_from_file_location("metrics_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SOURCE, module.WORK = ARGS.source_dir, work
    return module


def fleet_policy():
    """The fleet policy's dynamic pools {name: (point, [ip versions])} and its points."""
    import yaml
    with open(scenario("fleet.yaml")) as handle:
        policy = yaml.safe_load(handle)
    pools = {}
    for pool in policy["pools"]:
        if pool["type"] == "dynamic":
            versions = sorted({6 if ":" in prefix else 4 for prefix in pool["prefixes"]})
            pools[pool["name"]] = (pool.get("blocking_point", "(none)"), versions)
    return pools, [point["name"] for point in policy["blocking_points"]]


def expected_series(attempts):
    """{(name, labels): value} the contract's counters must hold after these attempts:
    zeros for everything the policy has, the counts of the fleet_attempt lines."""
    pools, points = fleet_policy()
    want = {}
    for pool, (point, versions) in pools.items():
        for version in versions:
            for verdict in ("allowed", "blocked", "leaked", "would_block", "unknown"):
                want[("op25b_fleet_attempts_total", frozenset(
                    {("pool", pool), ("blocking_point", point), ("ip_version", str(version)),
                     ("verdict", verdict)}))] = 0
    for point in points:
        for name in ("op25b_fleet_leaks_total", "op25b_fleet_held_total"):
            want[(name, frozenset({("blocking_point", point)}))] = 0
    for event in attempts:
        key = ("op25b_fleet_attempts_total", frozenset(
            {("pool", event["pool"]), ("blocking_point", event.get("blocking_point", "(none)")),
             ("ip_version", str(event["ip_version"])), ("verdict", event["verdict"])}))
        if key not in want:
            fail("a fleet_attempt outside the policy's pools and versions: %s" % event)
        want[key] += 1
        for point in event.get("failed_at", []):
            want[("op25b_fleet_leaks_total", frozenset({("blocking_point", point)}))] += 1
        if "held_at" in event:
            want[("op25b_fleet_held_total", frozenset({("blocking_point",
                                                         event["held_at"])}))] += 1
    return want


def check_contract(helpers, port, attempts, partitions):
    """The page at port serves the contract: each metric with its type and exactly its
    labels, the counters equal to what the attempts say (zeros before any) and, once
    partitions are held (None: not yet), a lag for each. Returns the samples and lags."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as page:
        text = page.read().decode()
    samples, types = helpers.parse_exposition(text)
    contract = helpers.fleet_contract()
    if helpers.failures or len(contract) < 4:
        fail("the exposition or the contract: %s" % helpers.failures)
    for name, kind, labels in contract:
        if types.get(name) != kind:
            fail("%s is served as %r, the contract says %s" % (name, types.get(name), kind))
        served = [dict(pairs) for sample, pairs in samples if sample == name]
        if partitions is None and name == "op25b_fleet_consumer_lag":
            continue
        if not served or any(sorted(pairs) != sorted(labels) for pairs in served):
            fail("%s is served with labels %s, the contract says %s" % (
                name, sorted({tuple(sorted(p)) for p in served}), labels))
    want = expected_series(attempts)
    got = {key: value for key, value in samples.items()
           if key[0] in ("op25b_fleet_attempts_total", "op25b_fleet_leaks_total",
                         "op25b_fleet_held_total")}
    if got != want:
        fail("the counters differ from the fleet_attempt lines: missing or different %s; "
             "unexpected %s" % (sorted((k[0], sorted(k[1]), v) for k, v in want.items()
                                       if got.get(k) != v),
                                sorted((k[0], sorted(k[1])) for k in got if k not in want)))
    lags = {dict(pairs)["partition"]: value for (name, pairs), value in samples.items()
            if name == "op25b_fleet_consumer_lag"}
    if partitions is not None and sorted(lags) != sorted(str(p) for p in partitions):
        fail("a consumer lag for partitions %s, the member holds %s" % (sorted(lags),
                                                                        sorted(partitions)))
    return samples, lags


def prometheus_sum(helpers, port, query):
    answer = helpers.prometheus_query(port, query)
    try:
        return float(answer["data"]["result"][0]["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def check_dashboard(helpers, prometheus_port, leaking):
    """Every query of the fleet dashboard returns data, for all and for one point and pool;
    the variables list the policy's names; the leak alert fires for the leaking points."""
    pools, points = fleet_policy()
    _, queries = helpers.dashboard_queries()
    fleet = [q for q in queries if q[0] == helpers.FLEET_BOARD]
    if not fleet:
        fail("no query in dashboards/%s" % helpers.FLEET_BOARD)
    helpers.evaluate_queries(prometheus_port, fleet, helpers.ALL, "all")
    one = {"sensor": ".*", "pool": "ftth", "blocking_point": pools["ftth"][0]}
    helpers.evaluate_queries(prometheus_port, fleet, one, "ftth behind %s" % one["blocking_point"])
    with open(os.path.join(ARGS.source_dir, "dashboards", helpers.FLEET_BOARD)) as handle:
        board = json.load(handle)
    variables = {v["name"]: v for v in board["templating"]["list"] if v.get("type") == "query"}
    listed = helpers.variable_values(prometheus_port, variables["blocking_point"])
    if listed != sorted(points):
        fail("the blocking_point variable lists %s, the policy has %s" % (listed, points))
    listed = helpers.variable_values(prometheus_port, variables["pool"])
    if listed != sorted(pools):
        fail("the pool variable lists %s, the policy's dynamic pools are %s" % (listed,
                                                                                 sorted(pools)))
    behind = helpers.variable_values(prometheus_port, variables["pool"],
                                     dict(helpers.ALL, blocking_point="dsl-edge"))
    if behind != ["dsl"]:
        fail("the pools behind dsl-edge: %s" % behind)
    if helpers.failures:
        fail("the fleet dashboard against a real correlator:\n" + "\n".join(helpers.failures))

    def firing():
        answer = helpers.prometheus_query(
            prometheus_port, 'ALERTS{alertname="OP25BFleetLeak",alertstate="firing"}')
        result = answer.get("data", {}).get("result") or []
        return sorted(r["metric"]["blocking_point"] for r in result) == leaking
    wait_for("OP25BFleetLeak firing for %s" % leaking, firing, timeout=30)
    return len(fleet)


def test_metrics():
    with MockBroker() as broker, tempfile.TemporaryDirectory() as work:
        helpers = metrics_helpers(work)
        broker.create(OUTPUT_TOPIC, PARTITIONS)
        port = free_port()
        started = helpers.start_prometheus(work, {"op25b-correlate": port})
        if started is None:
            fail("; ".join(helpers.failures))
        server, prometheus_port = started
        member = Correlator(broker, work, "member", "--output-topic", OUTPUT_TOPIC,
                            "--metrics", "127.0.0.1:%d" % port)
        try:
            # As soon as it serves, before it holds any partition: every counter, at 0.
            wait_for("the member's endpoint", lambda: helpers.scrape(port))
            check_contract(helpers, port, [], None)
            held = wait_for("the member's assignment", lambda: member.partitions())
            wait_for("a consumer lag for each partition held",
                     lambda: {n for n in scrape(port) if n.startswith("op25b_fleet_consumer_lag{")}
                     == {'op25b_fleet_consumer_lag{partition="%d"}' % p for p in held})
            check_contract(helpers, port, [], held)
            if not helpers.prometheus_ready(prometheus_port):
                fail("Prometheus did not start")
            wait_for("Prometheus scraping the zeros",
                     lambda: prometheus_sum(helpers, prometheus_port,
                                            "count(op25b_fleet_leaks_total)"), timeout=30)
            for policy, capture in SENSORS:
                run_sensor(broker, policy, capture)
            want = golden_attempts()
            wait_for("%d fleet_attempt messages" % len(want),
                     lambda: len(output_attempts(broker)) >= len(want))
            attempts = [json.loads(m[4]) for m in output_attempts(broker)]
            wait_for("the metrics to count every attempt, with no lag",
                     lambda: sum(v for n, v in scrape(port).items()
                                 if n.startswith("op25b_fleet_attempts_total{")) == len(want)
                     and all(v == 0 for n, v in scrape(port).items()
                             if n.startswith("op25b_fleet_consumer_lag{")))
            samples, lags = check_contract(helpers, port, attempts, held)
            wait_for("Prometheus scraping every attempt",
                     lambda: prometheus_sum(helpers, prometheus_port,
                                            "sum(op25b_fleet_attempts_total)") == len(want),
                     timeout=30)
            leaking = sorted({p for e in attempts for p in e.get("failed_at", [])})
            queries = check_dashboard(helpers, prometheus_port, leaking)
        finally:
            helpers.stop_prometheus(server)
        member.stop()
        leaks = {dict(k[1])["blocking_point"]: int(v) for k, v in samples.items()
                 if k[0] == "op25b_fleet_leaks_total"}
        held_at = {dict(k[1])["blocking_point"]: int(v) for k, v in samples.items()
                   if k[0] == "op25b_fleet_held_total"}
        print("metrics: every series of the contract at 0 from the start; after %d attempts "
              "leaks %s and held %s as failed_at and held_at say, lag 0 on %d partitions; "
              "%d fleet dashboard queries return data through Prometheus; OP25BFleetLeak "
              "fires for %s" % (len(attempts), leaks, held_at, len(lags), queries * 2,
                                ", ".join(leaking)))


# ---- cli ----

def test_cli():
    check = subprocess.run([ARGS.correlate, "-c", scenario("fleet.yaml"), "--check"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
    if check.returncode != 0 or "fleet-core" not in check.stdout or \
            "carried by fleet-edge (edge-side) fleet-core (core-side)" not in check.stdout:
        fail("--check: %d %s %s" % (check.returncode, check.stdout, check.stderr))
    site = subprocess.run([ARGS.correlate, "-c", scenario("fleet-edge.yaml"), "--check"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if site.returncode != 2 or "missing required key 'sensors' at the top level" not in \
            site.stderr or not site.stderr.startswith(scenario("fleet-edge.yaml") + ":"):
        fail("a policy without sensors: %d %s" % (site.returncode, site.stderr))
    sensor = subprocess.run([ARGS.binary, "-c", scenario("fleet.yaml"), "--check"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    if sensor.returncode != 2 or "missing required key 'sensor'" not in sensor.stderr:
        fail("the sensor must still require sensor: %d %s" % (sensor.returncode,
                                                              sensor.stderr))
    for bad in (["-c", scenario("fleet.yaml")], ["-c", scenario("fleet.yaml"), "-k", "x"],
                ["--window", "soon"], ["-c", scenario("fleet.yaml"), "-k", "x", "-o", "-",
                                       "--output-topic", TOPIC]):
        result = subprocess.run([ARGS.correlate] + bad, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        if result.returncode != 2 or "Try 'op25b-correlate --help'" not in result.stderr:
            fail("%s: exit %d, %s" % (bad, result.returncode, result.stderr))
    with MockBroker() as broker:
        broker.create(OUTPUT_TOPIC, 2)
        result = subprocess.run(correlate_command(broker, "--exit-at-end", "--output-topic",
                                                  OUTPUT_TOPIC) + FAST,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=60)
        if result.returncode != 1 or "has 2 partitions" not in result.stderr:
            fail("an output topic of 2 partitions: %d %s" % (result.returncode, result.stderr))
    print("cli: --check, a site policy refused, bad usage, a short output topic")


TESTS = {"join": test_join, "group": test_group, "takeover": test_takeover,
         "metrics": test_metrics, "cli": test_cli}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--correlate", required=True)
    parser.add_argument("--mock-broker", required=True)
    parser.add_argument("--kcat", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--case", choices=sorted(TESTS), required=True)
    parser.add_argument("--regen", action="store_true")
    ARGS = parser.parse_args()
    for name in ("binary", "correlate", "mock_broker", "source_dir"):
        setattr(ARGS, name, os.path.abspath(getattr(ARGS, name)))
    TESTS[ARGS.case]()
    print("PASS")


if __name__ == "__main__":
    main()
