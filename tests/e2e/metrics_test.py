#!/usr/bin/env python3
"""The Prometheus endpoint (--metrics) as a NOC uses it.

Parts (--only NAME):
  prometheus  a real Prometheus server (Debian's package) on loopback scrapes the sensor
              every second while the example capture is fed slowly through a pipe (-r -);
              the exposition text is checked (format, bounded labels, the example's numbers),
              then every query of every panel of every dashboard in dashboards/ is evaluated
              through Prometheus's HTTP API and must neither fail nor come back empty; the
              alerting rules in dashboards/op25b-alerts.yml must load and the leak alert fire;
              every query is evaluated twice, with every sensor, pool and blocking point and
              with the example's own (span-bras-east-1, bras-east, ftth-east). The fleet
              dashboard (op25b-correlate's metrics) is evaluated against a stand-in endpoint
              that serves exactly the contract of dashboards/README.md: its names and labels,
              with counters that grow
  dashboards  the dashboards without a server: valid JSON; the sensor, pool and blocking
              point variables on every panel's queries where the metric has those labels; no
              lifetime counter (every counter inside rate() or increase() over a window); every
              query parses (promtool check rules, on a rules file made of the queries)
  cli         listening addresses: loopback by default, bad values (exit 2), a port in use
              (exit 1), other paths and methods
  live        live capture on the loopback interface serves growing counters (exit 77,
              skipped, where capturing is not permitted)
  slow-clients  40 connections from one address trickling a header line every second
              (never idle): the per-address limit turns most away at once, a scrape from
              another address succeeds within 5 s while the rest are held, and the request
              deadline cuts those after 5 s (the idle timeout never would), after which a
              scrape from their own address succeeds too. Other loopback addresses
              (127.0.0.2, 127.0.0.3) give distinct clients without a network namespace

usage: metrics_test.py --binary BIN --source-dir DIR --work-dir DIR --only PART
"""
import argparse
import glob
import http.client
import select
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

VERDICTS = ["allowed", "blocked", "leaked", "would_block", "unknown"]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# Grafana's variables, as a dashboard is shown: the usual windows, and every sensor, pool
# and blocking point (ALL) or the example's own (EXAMPLE_SELECTION).
WINDOWS = {"__rate_interval": "1m", "__range": "5m", "__interval": "15s", "window": "5m"}
ALL = {"sensor": ".*", "pool": ".*", "blocking_point": ".*", "msa": ".*"}
EXAMPLE_SELECTION = {"sensor": "span-bras-east-1", "pool": "ftth-east",
                     "blocking_point": "bras-east", "msa": "isp-msa"}
FLEET_BOARD = "op25b-fleet.json"
# Metrics whose series carry pool and blocking_point: a panel on them follows both variables.
POOL_LABELLED = re.compile(r"^op25b_(attempts_total|leaks_total|coverage_ratio|pool_info|"
                           r"bot_suspect_score_(bucket|sum|count)|fleet_attempts_total|"
                           r"submission_connections_total|submission_subscribers)$")
POINT_LABELLED = re.compile(r"^op25b_fleet_(leaks|held)_total$")
SELECTOR = re.compile(r"\b(op25b_[a-z0-9_]+)\b(\{[^}]*\})?(\[[^\]]*\])?")
FEED_SECONDS = 12.0

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url, timeout=5, method="GET"):
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def parse_exposition(text):
    """Checks the text format and returns {(name, frozenset(labels)): value} and the
    declared types."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
            continue
        match = SAMPLE.match(line)
        if not check(match, "not an exposition line: %r" % line):
            continue
        name, _, labels, value = match.groups()
        pairs = frozenset(LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    for name in types:
        check(name in helps, "%s has no HELP" % name)
    for name, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in types or family in types, "%s has no TYPE" % name)
    return samples, types


def value(samples, name, **labels):
    total, found = 0.0, False
    for (sample_name, pairs), number in samples.items():
        if sample_name == name and all((k, v) in pairs for k, v in labels.items()):
            total += number
            found = True
    return total if found else None


def pcap_records(path):
    with open(path, "rb") as handle:
        data = handle.read()
    header, offset, records = data[:24], 24, []
    while offset < len(data):
        length = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        records.append(data[offset:offset + 16 + length])
        offset += 16 + length
    return header, records


def expected_from_expect():
    """Verdict totals and leak stages of the example, from the hand-written expectation."""
    verdicts, stages = dict.fromkeys(VERDICTS, 0), {}
    with open(os.path.join(SOURCE, "tests", "scenarios", "example.expect")) as expect:
        for line in expect:
            words = line.split()
            if len(words) >= 4 and words[2] in VERDICTS:
                verdicts[words[2]] += 1
                if words[2] == "leaked":
                    stage = words[3].split(",")[-1]
                    stages[stage] = stages.get(stage, 0) + 1
    return verdicts, stages


class Feeder(threading.Thread):
    """Writes the capture into the sensor's standard input over FEED_SECONDS, then keeps
    the pipe open with frames that are not IP (each one lets the packet thread publish),
    timed 40 s of packet time later so every SYN timer of the example has run out."""

    def __init__(self, stdin, header, records):
        super().__init__(daemon=True)
        self.stdin, self.header, self.records = stdin, header, records
        self.stop = threading.Event()
        self.go = threading.Event()
        self.real_done = threading.Event()
        self.fillers = 0

    def run(self):
        try:
            self.stdin.write(self.header)
            self.stdin.flush()
            # The endpoint comes up once the capture header is read; the packets wait until
            # Prometheus has scraped the idle sensor, so every counter is seen growing.
            self.go.wait(60)
            pause = FEED_SECONDS / len(self.records)
            for record in self.records:
                if self.stop.is_set():
                    return
                self.stdin.write(record)
                self.stdin.flush()
                time.sleep(pause)
            self.real_done.set()
            seconds = struct.unpack("<I", self.records[-1][:4])[0] + 40
            frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"\x00" * 46
            while not self.stop.is_set():
                record = struct.pack("<IIII", seconds, self.fillers, len(frame), len(frame))
                self.stdin.write(record + frame)
                self.stdin.flush()
                self.fillers += 1
                time.sleep(0.3)
        except (BrokenPipeError, ValueError):
            pass


def wait_for(predicate, timeout, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    return None


def scrape(port):
    try:
        status, headers, body = http_get("http://127.0.0.1:%d/metrics" % port)
    except (OSError, urllib.error.URLError):
        return None
    return (status, headers, body) if status == 200 else None


def check_exposition(status_headers_body, header_records):
    _, headers, body = status_headers_body
    check(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "Content-Type %r" % headers.get("Content-Type"))
    samples, types = parse_exposition(body)
    for name, kind in (("op25b_packets_total", "counter"), ("op25b_attempts_total", "counter"),
                       ("op25b_flows", "gauge"), ("op25b_findings_total", "counter"),
                       ("op25b_sink_queue_depth", "gauge"),
                       ("op25b_bot_suspect_score", "histogram")):
        check(types.get(name) == kind, "%s is %r, want %s" % (name, types.get(name), kind))
    # Bounded labels: pools, blocking points, verdicts, types... never an address.
    values = set()
    for _, pairs in samples:
        for label, text in pairs:
            values.add((label, text))
            try:
                ipaddress.ip_address(text)
                check(False, "label %s=%s is an address: labels must stay bounded" %
                      (label, text))
            except ValueError:
                pass
    check(len(samples) < 400, "%d series for a four-pool policy" % len(samples))
    # Every series names the sensor; the score histogram spans the score's 0..100 per pool.
    check(all(dict(pairs).get("sensor") == "span-bras-east-1" for _, pairs in samples),
          "a series without sensor=\"span-bras-east-1\"")
    for pool in ("ftth-east", "dsl-west"):
        bounds = [dict(pairs)["le"] for name, pairs in samples
                  if name == "op25b_bot_suspect_score_bucket" and dict(pairs).get("pool") == pool]
        check(bounds == [str(b) for b in range(10, 101, 10)] + ["+Inf"],
              "score buckets of %s: %s" % (pool, bounds))
    check({("verdict", v) for v in VERDICTS} <= values, "not every verdict is exported")
    return samples


def prometheus_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    status, _, body = http_get(url, timeout=10)
    try:
        answer = json.loads(body)
    except ValueError:
        return {"status": "error", "error": "HTTP %d: %s" % (status, body[:200])}
    return answer


def dashboard_queries():
    found = []
    paths = sorted(glob.glob(os.path.join(SOURCE, "dashboards", "*.json")))
    paths = [p for p in paths if not p.endswith("schema.json")]
    check(len(paths) >= 5, "dashboards/ holds %d dashboards" % len(paths))

    def walk(board, panels):
        for panel in panels:
            grid = panel.get("gridPos", {})
            check(panel.get("type") and panel.get("id") not in ids,
                  "%s: panel %r has no type or a duplicate id" % (board, panel.get("title")))
            ids.add(panel.get("id"))
            check(grid.get("x", 99) + grid.get("w", 99) <= 24 and grid.get("h", 0) > 0,
                  "%s: panel %r is off Grafana's 24-column grid" % (board, panel.get("title")))
            check(all(t.get("refId") for t in panel.get("targets", [])),
                  "%s: a query of %r has no refId" % (board, panel.get("title")))
            walk(board, panel.get("panels", []))
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((board, panel.get("title"), target["expr"]))
    boards = []
    for path in paths:
        with open(path) as handle:
            board = json.load(handle)
        name = os.path.basename(path)
        boards.append((name, board))
        check(board.get("uid") and board.get("title"), "%s: no uid or title" % name)
        check(board.get("schemaVersion"), "%s: no schemaVersion" % name)
        count = len(found)
        ids = set()
        walk(name, board.get("panels", []))
        check(len(found) > count, "%s: no queries" % name)
    return boards, found


def fleet_contract():
    """The correlator's metrics as dashboards/README.md promises them: [(name, type,
    [labels])], from the table under its heading "The correlator's metrics"."""
    with open(os.path.join(SOURCE, "dashboards", "README.md")) as handle:
        text = handle.read()
    section = text.split("## The correlator's metrics", 1)
    if not check(len(section) == 2, "dashboards/README.md has no correlator's metrics"):
        return []
    contract = []
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`op25b_fleet_"):
            labels = [l.strip() for l in cells[2].split(",") if l.strip()]
            contract.append((cells[0].strip("`"), cells[1], labels))
    check(len(contract) >= 4, "the correlator's contract lists %d metrics" % len(contract))
    return contract


class ContractStandIn:
    """Serves the correlator's contract, and nothing else, at /metrics: two values of each
    label (every verdict), counters that grow every second. It stands in for
    op25b-correlate so that the fleet dashboard is held to the names and labels the
    correlator must serve; it says nothing about what the correlator counts."""
    VALUES = {"pool": ["pool-a", "pool-b"], "blocking_point": ["point-a", "point-b"],
              "ip_version": ["4", "6"], "verdict": VERDICTS, "partition": ["0", "1"]}

    def __init__(self, contract):
        import http.server
        self.contract, self.started = contract, time.time()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = stand_in.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def exposition(self):
        import itertools
        lines, seconds = [], int(time.time() - self.started)
        for number, (name, kind, labels) in enumerate(self.contract):
            lines += ["# HELP %s stand-in" % name, "# TYPE %s %s" % (name, kind)]
            choices = [self.VALUES.get(label, ["x"]) for label in labels]
            for index, values in enumerate(itertools.product(*choices)):
                pairs = ",".join('%s="%s"' % pair for pair in zip(labels, values))
                value = (number + index + 1) * (seconds if kind == "counter" else 1)
                lines.append("%s{%s} %d" % (name, pairs, value))
        return "\n".join(lines) + "\n"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def substitute(expr, selection=None):
    values = dict(WINDOWS)
    values.update(selection or ALL)
    # Longest names first: $__range must not be taken for a $__rate_interval's prefix.
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    check("$" not in expr, "a variable the test does not know in %r" % expr)
    return expr


def evaluate_queries(prometheus_port, queries, selection, what):
    for board, title, expr in queries:
        answer = prometheus_query(prometheus_port, substitute(expr, selection))
        if not check(answer.get("status") == "success", "%s / %s (%s): %s fails: %s" %
                     (board, title, what, expr, answer.get("error"))):
            continue
        check(answer["data"]["result"], "%s / %s (%s): %s returns no data" %
              (board, title, what, expr))


VARIABLE_QUERY = re.compile(r"label_values\((\w+(?:\{[^}]*\})?),\s*(\w+)\)")


def variable_values(prometheus_port, variable, selection=None):
    match = VARIABLE_QUERY.fullmatch(variable.get("definition", ""))
    if not check(match, "variable %s: %s" % (variable["name"], variable.get("definition"))):
        return []
    url = "http://127.0.0.1:%d/api/v1/label/%s/values?%s" % (
        prometheus_port, match.group(2),
        urllib.parse.urlencode({"match[]": substitute(match.group(1), selection)}))
    return json.loads(http_get(url)[2]).get("data") or []


def start_prometheus(work, jobs):
    """Debian's Prometheus on loopback, scraping each job {name: port} every second and
    evaluating dashboards/op25b-alerts.yml every second (checked by promtool first):
    (process, port), or None when it is not installed. Also used by op25b-correlate's test
    (tests/kafka/fleet_test.py)."""
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not check(prometheus and promtool, "prometheus is not installed (.ci/install-deps)"):
        return None
    rules = os.path.join(SOURCE, "dashboards", "op25b-alerts.yml")
    status = subprocess.run([promtool, "check", "rules", rules], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    check(status.returncode == 0, "promtool check rules: %s" % status.stdout.decode())
    port = free_port()
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as handle:
        handle.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                     "rule_files: [%s]\nscrape_configs:\n" % json.dumps(rules))
        for name, target in sorted(jobs.items()):
            handle.write("  - job_name: %s\n    static_configs:\n"
                         "      - targets: ['127.0.0.1:%d']\n" % (name, target))
    server = subprocess.Popen([prometheus, "--config.file=" + config,
                               "--storage.tsdb.path=" + os.path.join(work, "data"),
                               "--web.listen-address=127.0.0.1:%d" % port,
                               "--log.level=warn"],
                              stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "prometheus.log"), "w"))
    return server, port


def prometheus_ready(port):
    """Waits (30 s at most) for Prometheus to answer; False if it never does."""
    return bool(wait_for(lambda: http_get("http://127.0.0.1:%d/-/ready" % port)[0] == 200
                         if _listening(port) else False, 30))


def stop_prometheus(server):
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_prometheus():
    work = os.path.join(WORK, "prometheus")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    sensor_port = free_port()
    contract = ContractStandIn(fleet_contract())
    started = start_prometheus(work, {"op25b": sensor_port, "op25b-correlate": contract.port})
    if started is None:
        contract.stop()
        return
    server, prometheus_port = started
    header, records = pcap_records(EXAMPLE_PCAP)
    events_path = os.path.join(work, "events.ndjson")
    sensor = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-", "-o", events_path,
                               "--metrics", "127.0.0.1:%d" % sensor_port],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder = Feeder(sensor.stdin, header, records)
    feeder.start()
    try:
        run_prometheus_checks(sensor_port, prometheus_port, records, feeder)
    finally:
        feeder.go.set()
        feeder.stop.set()
        feeder.join(timeout=5)
        try:
            sensor.stdin.close()
        except OSError:
            pass
        try:
            sensor.wait(timeout=30)
            err = sensor.stderr.read().decode(errors="replace")
            check(sensor.returncode == 0, "the sensor exits %d: %s" % (sensor.returncode, err))
        except subprocess.TimeoutExpired:
            sensor.kill()
            check(False, "the sensor did not end with its input")
        stop_prometheus(server)
        contract.stop()
    # Serving ended with the input.
    check(scrape(sensor_port) is None, "the endpoint still answers after the input ended")


def run_prometheus_checks(sensor_port, prometheus_port, records, feeder):
    if not check(wait_for(lambda: scrape(sensor_port), 10, 0.2),
                 "the sensor does not serve /metrics while reading a stream"):
        return
    if not check(prometheus_ready(prometheus_port), "Prometheus did not start"):
        return

    def scraped():
        answer = prometheus_query(prometheus_port, "op25b_packets_total")
        return answer.get("status") == "success" and answer["data"]["result"]
    check(wait_for(scraped, 30), "Prometheus never scraped the sensor")
    feeder.go.set()
    time.sleep(1)
    # While the stream runs: the counters grow.
    first = check_exposition(scrape(sensor_port), records)
    time.sleep(2)
    second = check_exposition(scrape(sensor_port), records)
    check(value(second, "op25b_packets_total") > value(first, "op25b_packets_total"),
          "packets_total does not grow during a streamed replay")

    # After the whole capture: the example's numbers, as its .expect file has them.
    verdicts, stages = expected_from_expect()
    want_packets = len(records)

    def settled():
        answer = scrape(sensor_port)
        if answer is None:
            return None
        samples, _ = parse_exposition(answer[2])
        if (value(samples, "op25b_packets_total") or 0) < want_packets + 1:
            return None
        return samples
    samples = wait_for(settled, FEED_SECONDS + 30)
    if not check(samples, "the sensor never published the whole capture"):
        return
    for verdict in VERDICTS:
        got = value(samples, "op25b_attempts_total", verdict=verdict)
        check(got == verdicts[verdict], "attempts_total{verdict=%s} = %s, the .expect file "
              "says %d" % (verdict, got, verdicts[verdict]))
    check(value(samples, "op25b_attempts_total", pool="ftth-east", ip_version="4",
                verdict="blocked") == 6, "ftth-east IPv4 blocked")
    check(value(samples, "op25b_coverage_ratio", pool="ftth-east", ip_version="4") == 0.75,
          "ftth-east IPv4 coverage")
    for stage, count in stages.items():
        check(value(samples, "op25b_leaks_total", stage=stage) == count,
              "leaks_total{stage=%s} = %s, want %d" %
              (stage, value(samples, "op25b_leaks_total", stage=stage), count))
    check(value(samples, "op25b_events_total", type="attempt") == sum(verdicts.values()),
          "events_total{type=attempt}")
    check(value(samples, "op25b_decode_skipped_total", reason="not_ip") >= 1,
          "the filler frames are counted as not IP")

    # Prometheus has scraped it: wait for the values and for the leak alert to fire.
    def prometheus_has_it():
        packets = prometheus_query(prometheus_port, "op25b_packets_total")
        alerts = prometheus_query(prometheus_port,
                                  'ALERTS{alertname="OP25BLeak",alertstate="firing"}')
        try:
            return (float(packets["data"]["result"][0]["value"][1]) >= want_packets and
                    alerts["data"]["result"])
        except (KeyError, IndexError, TypeError):
            return False
    check(wait_for(prometheus_has_it, 30), "Prometheus never saw the whole capture and the "
          "leak alert")
    rules = json.loads(http_get("http://127.0.0.1:%d/api/v1/rules" % prometheus_port)[2])
    loaded = [r for g in rules["data"]["groups"] for r in g["rules"]]
    check(len(loaded) >= 6 and all(r["health"] == "ok" for r in loaded),
          "alerting rules: %s" % [(r["name"], r["health"], r.get("lastError")) for r in loaded])

    # Every query of every dashboard panel, evaluated now: for every sensor, pool and
    # blocking point, and for the example's own.
    boards, queries = dashboard_queries()
    sensor_queries = [q for q in queries if q[0] != FLEET_BOARD]
    fleet_queries = [q for q in queries if q[0] == FLEET_BOARD]
    evaluate_queries(prometheus_port, sensor_queries, ALL, "all")
    evaluate_queries(prometheus_port, sensor_queries, EXAMPLE_SELECTION, "the example's")
    # The correlator's dashboard, against the stand-in that serves the contract.
    check(wait_for(lambda: prometheus_query(prometheus_port, "op25b_fleet_held_total")
                   .get("data", {}).get("result"), 30), "Prometheus never scraped the stand-in")
    evaluate_queries(prometheus_port, fleet_queries, ALL, "all")
    want = {"sensor": ["span-bras-east-1"], "blocking_point": ["bras-east", "edge-west"],
            "pool": ["dsl-west", "ftth-east"]}
    for name, board in boards:
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            values = variable_values(prometheus_port, variable)
            check(values, "%s: variable %s has no values" % (name, variable["name"]))
            if name != FLEET_BOARD and variable["name"] in want:
                check(values == want[variable["name"]], "%s: variable %s lists %s, the example "
                      "policy has %s" % (name, variable["name"], values, want[variable["name"]]))
        # Chained: a blocking point narrows the pools to its own.
        if name == "op25b-coverage.json":
            pools = [v for v in board["templating"]["list"] if v["name"] == "pool"][0]
            narrowed = variable_values(prometheus_port, pools, dict(ALL, blocking_point="edge-west"))
            check(narrowed == ["dsl-west"], "pools behind edge-west: %s" % narrowed)
    print("%d dashboard queries evaluated, %d of them on the fleet contract" %
          (len(queries) * 2 - len(fleet_queries), len(fleet_queries)))


def selector_faults(name, labels, ranged, variables):
    """What a dashboard selector of metric `name` lacks: the variables of the labels its
    series carry, and a window for a counter."""
    faults = []
    fleet = name.startswith("op25b_fleet_")
    wanted = [] if fleet else ["sensor"]
    if POOL_LABELLED.match(name):
        wanted += ["pool", "blocking_point"]
    elif POINT_LABELLED.match(name):
        wanted += ["blocking_point"]
    for label in wanted:
        explicit = re.search(r'\b%s="' % label, labels or "")
        if not explicit and '%s=~"$%s"' % (label, label) not in (labels or ""):
            faults.append("no %s=~\"$%s\"" % (label, label))
        if label not in variables:
            faults.append("no $%s variable on the dashboard" % label)
    if re.search(r"_(total|bucket|count|sum)$", name) and not ranged:
        faults.append("a lifetime counter (not in rate() or increase() over a window)")
    return faults


def test_dashboards():
    """The dashboards without a server: each panel follows the dashboard's variables, no
    panel shows a lifetime counter, and every query parses."""
    boards, queries = dashboard_queries()
    check(FLEET_BOARD in [name for name, _ in boards], "no fleet dashboard " + FLEET_BOARD)
    variables = {name: {v["name"] for v in board.get("templating", {}).get("list", [])}
                 for name, board in boards}
    for name, board in boards:
        check(name == FLEET_BOARD or "sensor" in variables[name],
              "%s: no sensor variable" % name)
        check("instance" not in variables[name], "%s: the old instance variable" % name)
    expressions = []
    for board, title, expr in queries:
        selectors = SELECTOR.findall(expr)
        check(selectors or "ALERTS" in expr, "%s / %s: no op25b metric in %s" %
              (board, title, expr))
        for metric, labels, ranged in selectors:
            for fault in selector_faults(metric, labels, ranged, variables[board]):
                check(False, "%s / %s: %s%s: %s" % (board, title, metric, labels, fault))
        if "ALERTS" in expr and board != FLEET_BOARD:
            check('sensor=~"$sensor"' in expr, "%s / %s: alerts of every sensor" % (board, title))
        expressions.append(substitute(expr))
    for name, board in boards:
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                match = VARIABLE_QUERY.fullmatch(variable.get("definition", ""))
                if check(match, "%s: variable %s: %s" % (name, variable["name"],
                                                         variable.get("definition"))):
                    expressions.append(substitute(match.group(1)))
    # promtool parses without a server: a rules file of recording rules, one per query.
    promtool = shutil.which("promtool")
    if not check(promtool, "promtool is not installed (.ci/install-deps)"):
        return
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "dashboard-queries.yml")
    with open(path, "w") as handle:
        handle.write("groups:\n  - name: dashboard_queries\n    rules:\n")
        for number, expr in enumerate(expressions):
            handle.write("      - record: dashboard_query_%d\n        expr: %s\n" %
                         (number, json.dumps(expr)))
    result = subprocess.run([promtool, "check", "rules", path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    check(result.returncode == 0, "promtool rejects a dashboard query: %s" %
          result.stdout.decode(errors="replace"))
    print("%d dashboards, %d queries and variables parsed by promtool" %
          (len(boards), len(expressions)))


def _listening(port):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def listening_addresses(port):
    """Local addresses in LISTEN state on port, from /proc/net/tcp and tcp6."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as table:
                next(table)
                for line in table:
                    local, state = line.split()[1], line.split()[3]
                    address, port_hex = local.split(":")
                    if int(port_hex, 16) == port and state == "0A":
                        found.append(address)
        except OSError:
            pass
    return found


def test_cli():
    for bad in ("abc", "70000", "0", "mail.example:9325", "[::1", "127.0.0.1:"):
        result = subprocess.run([BINARY, "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--metrics",
                                 bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(result.returncode == 2, "--metrics %s exits %d" % (bad, result.returncode))
    # A port in use is a run-time failure.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([BINARY, "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--metrics",
                                 "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        check(result.returncode == 1 and b"cannot listen" in result.stderr,
              "port in use: %d %s" % (result.returncode, result.stderr))
    # A bare port binds to loopback only.
    port = free_port()
    sensor = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-", "-o", os.devnull,
                               "--metrics", str(port)], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        header, _ = pcap_records(EXAMPLE_PCAP)
        sensor.stdin.write(header)
        sensor.stdin.flush()
        if check(wait_for(lambda: scrape(port), 10, 0.2), "bare port: nothing serves"):
            addresses = listening_addresses(port)
            check(addresses == ["0100007F"], "a bare port listens on %s, want 127.0.0.1 only" %
                  addresses)
            status, _, _ = http_get("http://127.0.0.1:%d/nothing" % port)
            check(status == 404, "/nothing answers %d" % status)
            status, _, _ = http_get("http://127.0.0.1:%d/metrics" % port, method="POST")
            check(status == 405, "POST answers %d" % status)
            status, _, body = http_get("http://127.0.0.1:%d/" % port)
            check(status == 200 and "/metrics" in body, "/ answers %d %r" % (status, body))
    finally:
        sensor.stdin.close()
        sensor.wait(timeout=30)
    check(sensor.returncode == 0, "bare port run exits %d" % sensor.returncode)
    # IPv6 loopback, where the machine has it.
    if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
        port = free_port()
        sensor = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-", "-o",
                                   os.devnull, "--metrics", "[::1]:%d" % port],
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            sensor.stdin.write(header)
            sensor.stdin.flush()

            def served():
                try:
                    return http_get("http://[::1]:%d/metrics" % port)[0] == 200
                except OSError:
                    return False
            check(wait_for(served, 10, 0.2), "[::1]:PORT does not serve")
        finally:
            sensor.stdin.close()
            sensor.wait(timeout=30)


def test_live():
    # The scrapes are traffic on lo, between addresses that are not the ISP's: the policy's
    # kernel prefilter drops them, so this part runs without it, and the next part checks
    # that with it they are indeed not counted.
    port = free_port()
    sensor = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-i", "lo", "-o", os.devnull,
                               "--no-prefilter", "--metrics", "127.0.0.1:%d" % port],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first = wait_for(lambda: scrape(port) if sensor.poll() is None else "exited", 10, 0.2)
        if first == "exited" or first is None:
            err = sensor.stderr.read().decode(errors="replace") if sensor.poll() is not None else ""
            print("SKIP: live capture on lo is not possible here: %s" % err.strip())
            sys.exit(77)
        # Scrapes are traffic on lo too: the counters grow with nothing else going on.
        before, _ = parse_exposition(first[2])
        time.sleep(2.5)
        after, _ = parse_exposition(scrape(port)[2])
        check(value(after, "op25b_packets_total") > value(before, "op25b_packets_total"),
              "live: packets_total does not grow (%s, then %s)" %
              (value(before, "op25b_packets_total"), value(after, "op25b_packets_total")))
        check(value(after, "op25b_last_publish_timestamp_seconds") >
              value(before, "op25b_last_publish_timestamp_seconds"),
              "live: the snapshot is not republished")
    finally:
        if sensor.poll() is None:
            sensor.send_signal(signal.SIGTERM)
        try:
            sensor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sensor.kill()
            check(False, "live: SIGTERM did not stop the sensor while serving metrics")
    check(sensor.returncode == 0, "live: exit %d after SIGTERM" % sensor.returncode)
    test_live_prefilter()


def test_live_prefilter():
    port = free_port()
    sensor = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-i", "lo", "-o", os.devnull,
                               "--metrics", "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        first = wait_for(lambda: scrape(port) if sensor.poll() is None else "exited", 10, 0.2)
        check(first not in (None, "exited"), "live with the prefilter: no metrics served")
        if first in (None, "exited"):
            return
        for _ in range(5):
            scrape(port)
            time.sleep(0.3)
        time.sleep(2.5)  # the snapshot is republished every second or so
        counters, _ = parse_exposition(scrape(port)[2])
        # Each scrape is ten packets or more; other tests may add a stray packet on lo.
        check(value(counters, "op25b_packets_total") < 10,
              "live with the prefilter: %s packets counted of at least 60 scrape packets "
              "the prefilter should drop" % value(counters, "op25b_packets_total"))
    finally:
        if sensor.poll() is None:
            sensor.send_signal(signal.SIGTERM)
        sensor.wait(timeout=30)


SLOW_CLIENTS = 40
CLIENT_LIMIT = 8          # src/output/metrics.c: connections per client address
REQUEST_DEADLINE = 5.0    # src/util/http_guard.h: seconds to send a whole request


def scrape_from(source, port, timeout=5):
    """A scrape of /metrics from the loopback address source: (seconds, status) or
    (seconds, the error)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0))
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        status = response.status if b"op25b_packets_total" in body else "no metrics"
    except (OSError, http.client.HTTPException) as error:
        status = repr(error)
    finally:
        connection.close()
    return time.monotonic() - started, status


class SlowClients:
    """Connections that send a request line and then one header line a second, for ever:
    never idle, never done. Records when the server closed each."""

    def __init__(self, source, port, count):
        self.sockets, self.opened, self.closed, self.last_sent = [], [], {}, {}
        for _ in range(count):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
            self.opened.append(time.monotonic())
            self.sockets.append(sock)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def send(self, index, data):
        try:
            self.sockets[index].sendall(data)
            self.last_sent[index] = time.monotonic()
        except OSError:
            self.closed.setdefault(index, time.monotonic())

    def trickle(self):
        for index in range(len(self.sockets)):
            self.send(index, b"GET /metrics HTTP/1.1\r\nHost: sensor\r\n")
        next_line = time.monotonic() + 1
        while not self.stop.is_set():
            open_ones = [i for i in range(len(self.sockets)) if i not in self.closed]
            if not open_ones:
                return
            readable, _, _ = select.select([self.sockets[i] for i in open_ones], [], [], 0.05)
            for sock in readable:
                index = self.sockets.index(sock)
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.closed.setdefault(index, time.monotonic())
            if time.monotonic() >= next_line:
                for index in open_ones:
                    if index not in self.closed:
                        self.send(index, b"X-Slow: 1\r\n")
                next_line += 1

    def open_count(self):
        return len(self.sockets) - len(self.closed)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_slow_clients():
    port = free_port()
    sensor = subprocess.Popen([BINARY, "-c", EXAMPLE_POLICY, "-r", "-", "-o", os.devnull,
                               "--metrics", "127.0.0.1:%d" % port], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    header, _ = pcap_records(EXAMPLE_PCAP)
    sensor.stdin.write(header)
    sensor.stdin.flush()
    slow = None
    try:
        if not check(wait_for(lambda: scrape(port), 10, 0.2), "nothing serves /metrics"):
            return
        slow = SlowClients("127.0.0.3", port, SLOW_CLIENTS)
        time.sleep(1.5)
        held = [i for i in range(SLOW_CLIENTS) if i not in slow.closed]
        check(0 < len(held) <= CLIENT_LIMIT,
              "%d of %d slow connections from one address are held, want 1 to %d" %
              (len(held), SLOW_CLIENTS, CLIENT_LIMIT))
        # Held, they do not keep others out.
        for source in ("127.0.0.2", "127.0.0.1"):
            seconds, status = scrape_from(source, port)
            check(status == 200 and seconds < 5,
                  "a scrape from %s while %d slow clients are held: %s after %.1f s" %
                  (source, len(held), status, seconds))
            print("scrape from %s with %d slow clients held: %s in %.2f s" %
                  (source, len(held), status, seconds))
        _, status = scrape_from("127.0.0.3", port)
        check(status != 200, "the slow clients' own address is not limited: %s" % status)
        # The deadline cuts them, though they were never idle.
        wait_for(lambda: slow.open_count() == 0, REQUEST_DEADLINE + 5, 0.1)
        for index in held:
            lived = slow.closed.get(index, float("inf")) - slow.opened[index]
            silent = slow.closed.get(index, 0) - slow.last_sent.get(index, 0)
            check(REQUEST_DEADLINE - 0.5 < lived < REQUEST_DEADLINE + 1.5 and silent < 1.5,
                  "slow connection %d closed after %.1f s, %.1f s after its last line; "
                  "want the %.0f s deadline while it trickled" %
                  (index, lived, silent, REQUEST_DEADLINE))
        seconds, status = scrape_from("127.0.0.3", port)
        check(status == 200 and seconds < 5,
              "a scrape from the slow clients' address once they were cut: %s after %.1f s" %
              (status, seconds))
        lived = [slow.closed.get(i, float("inf")) - slow.opened[i] for i in held] or [0]
        print("%d slow connections held, cut after %.1f to %.1f s; their address scrapes "
              "again: %s in %.2f s" % (len(held), min(lived), max(lived), status, seconds))
    finally:
        if slow is not None:
            slow.finish()
        sensor.stdin.close()
        sensor.wait(timeout=30)
    stderr = sensor.stderr.read().decode(errors="replace")
    check(sensor.returncode == 0, "slow clients: the sensor exits %d" % sensor.returncode)
    check("connection cut for not sending a whole request within 5 s" in stderr,
          "the first cut is not logged:\n" + stderr)
    check(stderr.count("metrics:") <= 3, "the slow clients flood the log:\n" + stderr)


def main():
    global BINARY, SOURCE, WORK, EXAMPLE_POLICY, EXAMPLE_PCAP
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", required=True,
                        choices=["prometheus", "dashboards", "cli", "live", "slow-clients"])
    args = parser.parse_args()
    BINARY = os.path.abspath(args.binary)
    SOURCE = os.path.abspath(args.source_dir)
    WORK = os.path.abspath(args.work_dir)
    EXAMPLE_POLICY = os.path.join(SOURCE, "rules", "example.yaml")
    EXAMPLE_PCAP = os.path.join(SOURCE, "pcaps", "example.pcap")
    os.makedirs(WORK, exist_ok=True)
    {"prometheus": test_prometheus, "dashboards": test_dashboards, "cli": test_cli,
     "live": test_live,
     "slow-clients": test_slow_clients}[args.only]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
