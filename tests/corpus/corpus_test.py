#!/usr/bin/env python3
"""Replays the third-party corpus (tests/corpus) through op25b-watch and compares what the sensor
says with readings it did not write: the expected outputs the Zeek, Suricata and nDPI test
suites check in (summarised in corpus/expected/smtp-facts.tsv) and tshark's own dissection.

Checks (one per ctest test, chosen with --check):
  all-captures      every pcap/pcapng under corpus/pcaps replays cleanly: exit status 0 (1
                    only for a damaged capture, and then stderr says so), no crash signal,
                    every line a JSON event with type, ts and sensor, and a final
                    sensor_stats, last, whose packet count equals capinfos' (or tshark's);
  smtp-facts        each connection of smtp-facts.tsv has exactly one attempt event with the
                    same 5-tuple whose helo, mail_from domain, rcpt_count, handshake state and
                    Community ID agree with the peer's reading;
  tshark-agreement  per TCP/25 connection tshark dissects, one attempt event whose EHLO/HELO
                    argument, MAIL FROM domain, RCPT count, STARTTLS, AUTH and SYN-ACK agree
                    with what tshark shows, and no attempt tshark has no connection for.

A difference with a reason (a dialogue the sensor cannot see, a dissector that reads the
bytes differently) is listed below in SMTP_FACT_EXCEPTIONS or TSHARK_EXCEPTIONS with both
values exactly; anything else fails, and so does an exception that no longer occurs.

Only the Python 3 standard library is used. Exit status 0 pass, 1 fail (also when the corpus is missing), 77 skip (the reading tools
are not on this machine).
"""
import argparse
import concurrent.futures
import csv
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict

SKIP = 77
SMTP_PORT = 25
SENSOR_TIMEOUT = 60  # seconds per capture; the largest corpus file replays in well under 1
TOOL_TIMEOUT = 120
CAPTURE_SUFFIXES = (".pcap", ".pcapng")
TS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# smtp-facts rows where the sensor and the peer's reading differ for a reason. A row applies
# only when both values are exactly these; key: (capture, client port, fact).
SMTP_FACT_EXCEPTIONS = {}

# Connections where tshark 4.0 and the sensor read the same bytes differently; same rules.
TSHARK_EXCEPTIONS = {
    # The client pipelines MAIL, RCPT and DATA in one segment (RFC 2920); the server
    # refuses all three (553, 503, 503), the client sends RSET, a second MAIL and RCPT, a
    # second DATA (answered 354) and the body. RFC 5321 4.1.1.4: without a 354 no body
    # follows, but tshark's SMTP dissector enters its DATA state on the pipelined DATA and
    # reads every later client line (frames 11 and 14: RSET, MAIL, RCPT, DATA) as "DATA
    # fragment". The sensor counts both RCPT commands, as the payload of frames 8 and 14
    # shows.
    ("suricata__smtp-data-rejected", 49898, "rcpt"): {
        "tshark": 1, "sensor": 2,
        "reason": "tshark reads the commands after a refused pipelined DATA as body"},
}


class Failures:
    """Collects every disagreement so one run reports them all."""

    def __init__(self):
        self.messages = []

    def add(self, message):
        self.messages.append(message)

    def finish(self):
        if self.messages:
            print("\n%d failure(s):" % len(self.messages))
            for message in self.messages:
                print("FAIL: " + message)
            return 1
        print("\nPASS")
        return 0


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


def fail_now(message):
    print("FAIL: " + message)
    sys.exit(1)


def capture_name(path):
    name = os.path.basename(path)
    for suffix in CAPTURE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_captures(corpus):
    captures = []
    for directory, _subdirectories, files in os.walk(os.path.join(corpus, "pcaps")):
        for name in files:
            if name.endswith(CAPTURE_SUFFIXES):
                captures.append(os.path.join(directory, name))
    return sorted(captures, key=lambda path: (capture_name(path), path))


def parallel(function, items):
    """function(item) for every item, a few at a time; results in the order of items."""
    workers = max(2, min(8, os.cpu_count() or 2))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def normal_address(text):
    return ipaddress.ip_address(text).compressed


# ---- The sensor ----


class SensorRun:
    def __init__(self, capture, returncode, stdout, stderr):
        self.capture = capture
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.events = []
        self.errors = []  # lines that are no valid event
        for number, line in enumerate(stdout.splitlines(), 1):
            try:
                event = json.loads(line)
            except ValueError as error:
                self.errors.append("line %d is not JSON (%s): %.200s" % (number, error, line))
                continue
            if not isinstance(event, dict):
                self.errors.append("line %d is not a JSON object: %.200s" % (number, line))
                continue
            self.events.append(event)

    def attempts(self):
        return [event for event in self.events if event.get("type") == "attempt"]


def run_sensor(binary, policy, capture):
    command = [binary, "-q", "-c", policy, "-r", capture]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=SENSOR_TIMEOUT)
    except subprocess.TimeoutExpired:
        return SensorRun(capture, None, "", "timed out after %d s" % SENSOR_TIMEOUT)
    return SensorRun(capture, result.returncode, result.stdout.decode(errors="replace"),
                     result.stderr.decode(errors="replace"))


def attempt_key(event):
    return (normal_address(event["src_ip"]), event["src_port"], normal_address(event["dst_ip"]),
            event["dst_port"])


# ---- tshark ----

TSHARK_FIELDS = [
    "frame.number", "frame.time_epoch", "frame.protocols", "tcp.stream", "ip.src", "ip.dst",
    "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
    "tcp.len", "smtp.command_line", "smtp.response.code",
]


def run_tshark(capture, display_filter):
    """The TCP packets of a capture as tshark dissects them, one dict per packet."""
    # The dissection preferences the comparison relies on, set here so that a user's
    # Wireshark profile cannot change the reading: SMTP lines reassembled across segments.
    command = ["tshark", "-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-o",
               "smtp.desegment_lines:TRUE", "-r", capture, "-Y", display_filter, "-T", "json"]
    for field in TSHARK_FIELDS:
        command += ["-e", field]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=TOOL_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (capture, result.stderr.decode()[:300]))
    text = result.stdout.decode(errors="replace").strip()
    packets = []
    for record in json.loads(text) if text else []:
        layers = record["_source"]["layers"]
        packets.append(read_packet(layers))
    return packets


def read_packet(layers):
    def values(field):
        return layers.get(field, [])

    def last(field):
        found = values(field)
        return found[-1] if found else None

    # A tunnel gives several IP headers; the innermost one, the last IP layer in
    # frame.protocols, carries the TCP segment.
    protocols = last("frame.protocols").split(":")
    ip_layers = [layer for layer in protocols if layer in ("ip", "ipv6")]
    inner = ip_layers[-1] if ip_layers else "ip"
    return {
        "frame": int(last("frame.number")),
        "time": float(last("frame.time_epoch")),
        "protocols": protocols,
        "stream": int(last("tcp.stream")),
        "src": normal_address(last(inner + ".src")),
        "dst": normal_address(last(inner + ".dst")),
        "sport": int(last("tcp.srcport")),
        "dport": int(last("tcp.dstport")),
        "syn": last("tcp.flags.syn") in ("1", "True"),
        "ack": last("tcp.flags.ack") in ("1", "True"),
        "length": int(last("tcp.len") or 0),
        "commands": values("smtp.command_line"),
        "replies": [int(code) for code in values("smtp.response.code")],
    }


def split_command(line):
    """An SMTP command line as tshark shows it -> (VERB, argument)."""
    line = line.rstrip("\r\n")
    verb, _space, argument = line.partition(" ")
    return verb.upper(), argument.strip(" ")


MAIL_FROM = re.compile(r"^FROM:\s*<?([^\s>]*)", re.IGNORECASE)


def mail_from_domain(address):
    """Domain of a reverse-path: after the last '@', lower case; "" for the null path <>
    (as the sensor writes it), None for a name without '@'."""
    if "@" not in address:
        return "" if address == "" else None
    return address.rsplit("@", 1)[1].lower()


def tshark_connections(packets, server_port=None):
    """Groups packets by tcp.stream. The client is the sender of a bare SYN; without one,
    the side away from server_port (or from the lower port). Returns stream -> connection."""
    streams = OrderedDict()
    for packet in sorted(packets, key=lambda p: p["frame"]):
        streams.setdefault(packet["stream"], []).append(packet)
    connections = OrderedDict()
    for stream, members in streams.items():
        opener = next((p for p in members if p["syn"] and not p["ack"]), None)
        if opener is None:
            first = members[0]
            wanted = server_port if server_port is not None else min(first["sport"],
                                                                      first["dport"])
            if first["sport"] == wanted:
                opener = {"src": first["dst"], "sport": first["dport"], "dst": first["src"],
                          "dport": first["sport"]}
            else:
                opener = first
        key = (opener["src"], opener["sport"], opener["dst"], opener["dport"])
        connections[stream] = read_connection(key, members)
    return connections


def read_connection(key, members):
    """What tshark shows of one connection, in the terms of the sensor's attempt event."""
    client = (key[0], key[1])
    facts = {
        "key": key, "first_time": members[0]["time"], "first_frame": members[0]["frame"],
        "client_syn": False, "client_payload": False, "syn_ack": False, "helo": None,
        "mail_from_domain": None, "rcpt": 0, "starttls_sent": False,
        "starttls_accepted": False, "auth_sent": False, "auth_success": False,
    }
    mail_seen = False
    starttls_answered = False
    for packet in members:
        from_client = (packet["src"], packet["sport"]) == client
        if from_client:
            if packet["syn"] and not packet["ack"]:
                facts["client_syn"] = True
            if packet["length"] > 0:
                facts["client_payload"] = True
            for line in packet["commands"]:
                verb, argument = split_command(line)
                if verb in ("EHLO", "HELO"):
                    # RFC 5321 4.1.1.1: the argument is one domain or address literal.
                    facts["helo"] = argument.split(" ")[0] if argument else ""
                elif verb == "MAIL" and not mail_seen:
                    mail_seen = True
                    match = MAIL_FROM.match(argument)
                    if match:
                        facts["mail_from_domain"] = mail_from_domain(match.group(1))
                elif verb == "RCPT":
                    facts["rcpt"] += 1
                elif verb == "STARTTLS":
                    facts["starttls_sent"] = True
                elif verb == "AUTH":
                    facts["auth_sent"] = True
        else:
            if packet["syn"] and packet["ack"]:
                facts["syn_ack"] = True
            # RFC 4954 6: 235 answers AUTH alone.
            if 235 in packet["replies"]:
                facts["auth_success"] = True
            # RFC 3207 4: the reply to STARTTLS is the first one after it, 220 to go ahead.
            if facts["starttls_sent"] and not starttls_answered and packet["replies"]:
                starttls_answered = True
                if packet["replies"][0] == 220:
                    facts["starttls_accepted"] = True
        # tshark dissecting TLS after STARTTLS is the upgrade under way, its 220 seen or not.
        if facts["starttls_sent"] and "tls" in packet["protocols"]:
            facts["starttls_accepted"] = True
    return facts


def sensor_facts(event):
    smtp = event.get("smtp") or {}
    evidence = event.get("evidence", [])
    return {
        "syn_ack": "syn_ack" in evidence,
        "helo": smtp.get("helo"),
        "mail_from_domain": smtp.get("mail_from_domain"),
        "rcpt": smtp.get("rcpt_count", 0),
        "starttls_sent": "starttls" in evidence,
        "starttls_accepted": smtp.get("starttls") is True,
        "auth_sent": "auth_mechanism" in smtp,
        "auth_success": smtp.get("auth") is True,
    }


def pair_by_time(connections, events):
    """Connections and attempt events of one 5-tuple, in time order (a port reused with a
    new ISN is a second connection to tshark and a second attempt to the sensor)."""
    connections = sorted(connections, key=lambda c: c["first_time"])
    events = sorted(events, key=lambda e: e["ts"])
    return list(zip(connections, events))


def have_tools(*tools):
    return all(shutil.which(tool) is not None for tool in tools)


# ---- Exceptions ----


class ExceptionBook:
    """Looks up listed differences and remembers which were used, so that a stale entry
    (the difference is gone, or its values changed) fails the test."""

    def __init__(self, table, reading):
        self.table = table
        self.reading = reading
        self.used = set()

    def excuses(self, key, theirs, ours):
        entry = self.table.get(key)
        if entry is None or entry[self.reading] != theirs or entry["sensor"] != ours:
            return None
        self.used.add(key)
        return entry["reason"]

    def report_unused(self, failures, checked_captures):
        for key, entry in self.table.items():
            if key not in self.used and key[0] in checked_captures:
                failures.add("exception %r no longer applies (%s %r, sensor %r expected): "
                             "remove it or update it" % (key, self.reading,
                                                         entry[self.reading], entry["sensor"]))


def compare_fact(book, failures, counts, where, key, fact, theirs, ours, reading, agree=None):
    """One fact; agree(theirs, ours) decides, equality by default."""
    counts["facts"] += 1
    if (agree or (lambda a, b: a == b))(theirs, ours):
        counts["agreed"] += 1
        return
    reason = book.excuses(key, theirs, ours)
    if reason is not None:
        counts["excepted"] += 1
        print("  exception %s %s: %s %r, sensor %r (%s)" % (where, fact, reading, theirs, ours,
                                                          reason))
        return
    failures.add("%s: %s is %r to %s, %r to the sensor" % (where, fact, theirs, reading, ours))


# ---- Check: all-captures ----


def count_packets(capture):
    """(packet count, damaged) from capinfos, or from tshark when capinfos is missing."""
    if shutil.which("capinfos"):
        result = subprocess.run(["capinfos", "-c", "-M", capture], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT)
        text = result.stdout.decode(errors="replace")
        damaged = result.returncode != 0 or "cut short" in result.stderr.decode(errors="replace")
        match = re.search(r"Number of packets:\s*(\d+)", text)
        return (int(match.group(1)) if match else None), damaged
    result = subprocess.run(["tshark", "-n", "-r", capture, "-T", "fields", "-e",
                             "frame.number"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=TOOL_TIMEOUT)
    return len(result.stdout.splitlines()), result.returncode != 0


def check_all_captures(args, captures, failures):
    if not have_tools("capinfos") and not have_tools("tshark"):
        skip("neither capinfos nor tshark is installed (.ci/install-deps installs tshark)")

    def one(capture):
        return run_sensor(args.binary, args.policy, capture), count_packets(capture)

    results = parallel(one, captures)
    print("%-48s %8s %8s %7s %8s" % ("capture", "packets", "capinfo", "events", "attempts"))
    total_packets = total_events = total_attempts = 0
    for capture, (run, (expected_packets, damaged)) in zip(captures, results):
        name = capture_name(capture)
        check_run(run, name, expected_packets, damaged, args.sensor_name, failures)
        stats = [e for e in run.events if e.get("type") == "sensor_stats"]
        packets = stats[-1].get("packets") if stats else None
        attempts = len(run.attempts())
        print("%-48s %8s %8s %7d %8d" % (name[:48], packets, expected_packets, len(run.events),
                                         attempts))
        total_packets += packets or 0
        total_events += len(run.events)
        total_attempts += attempts
    print("%-48s %8d %8s %7d %8d" % ("total: %d captures" % len(captures), total_packets, "",
                                     total_events, total_attempts))


def check_run(run, name, expected_packets, damaged, sensor_name, failures):
    if run.returncode is None:
        failures.add("%s: the sensor %s" % (name, run.stderr))
        return
    if run.returncode < 0:
        failures.add("%s: the sensor died of signal %d; stderr: %s" % (name, -run.returncode,
                                                                      run.stderr[-500:]))
        return
    if run.returncode == 1:
        if not damaged or "damaged" not in run.stderr:
            failures.add("%s: exit status 1 for a capture %s; stderr: %s" % (
                name, "capinfos reads in full" if not damaged else "without saying so",
                run.stderr[-500:]))
    elif run.returncode != 0:
        failures.add("%s: exit status %d; stderr: %s" % (name, run.returncode,
                                                         run.stderr[-500:]))
    for error in run.errors:
        failures.add("%s: %s" % (name, error))
    for number, event in enumerate(run.events, 1):
        missing = [key for key in ("type", "ts", "sensor") if key not in event]
        if missing:
            failures.add("%s: event %d lacks %s" % (name, number, ", ".join(missing)))
            continue
        if not isinstance(event["ts"], str) or not TS_PATTERN.match(event["ts"]):
            failures.add("%s: event %d has ts %r, not RFC 3339 UTC with microseconds" % (
                name, number, event["ts"]))
        if event["sensor"] != sensor_name:
            failures.add("%s: event %d names sensor %r" % (name, number, event["sensor"]))
        if event["type"] == "attempt" and (event.get("dst_port") != SMTP_PORT or
                                           event.get("proto") != "tcp"):
            failures.add("%s: attempt event %d is not TCP/25: %s" % (name, number,
                                                                     json.dumps(event)))
    if not run.events or run.events[-1].get("type") != "sensor_stats":
        failures.add("%s: the last event is not sensor_stats" % name)
        return
    stats = run.events[-1]
    if stats.get("final") is not True:
        failures.add("%s: the last sensor_stats is not final: %s" % (name, json.dumps(stats)))
    if expected_packets is None:
        failures.add("%s: no packet count from capinfos/tshark" % name)
    elif stats.get("packets") != expected_packets:
        failures.add("%s: sensor_stats counts %r packets, capinfos %d" % (
            name, stats.get("packets"), expected_packets))
    if stats.get("events_attempt") != len(run.attempts()):
        failures.add("%s: sensor_stats counts %r attempts, the output has %d" % (
            name, stats.get("events_attempt"), len(run.attempts())))


# ---- Check: smtp-facts ----

TSV_TUPLE = ("src", "sport", "dst", "dport")

# What each peer's connection state says about the handshake, in evidence names: the names
# that must be in the attempt's evidence, and those that must not.
CONN_STATES = {
    # Zeek conn.log: S0 no reply to the SYN; REJ the SYN answered by a RST; SF set up and
    # closed normally.
    "S0": ((), ("syn_ack", "rst_server")),
    "REJ": (("rst_server",), ("syn_ack",)),
    "SF": (("syn_ack",), ()),
    # nDPI's risk for a SYN answered by a RST from the server.
    "ndpi risk: Connection refused (server)": (("rst_server",), ("syn_ack",)),
    # Suricata flow event: the SYN and nothing back.
    "flow.state=new; tcp.state=syn_sent": ((), ("syn_ack", "client_ack", "rst_server")),
}

COMMUNITY_ID = re.compile(r"community_id_v1 \(seed 0\) (1:[A-Za-z0-9+/]+=*)")


def read_fact_rows(path):
    with open(path, newline="") as source:
        reader = csv.DictReader(source, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = list(reader)
    for number, row in enumerate(rows, 2):
        row["line"] = number
    return rows


def row_matches(row, key):
    for field, value in zip(TSV_TUPLE, key):
        wanted = row[field]
        if wanted == "-":
            continue
        if field in ("sport", "dport"):
            if int(wanted) != value:
                return False
        elif normal_address(wanted) != value:
            return False
    return True


def parse_rcpt(text):
    """'3' -> ('==', 3); '>500' -> ('>', 500); '>=1' -> ('>=', 1); '-' -> None."""
    if text == "-":
        return None
    match = re.match(r"^(>=|>)?(\d+)$", text)
    if match is None:
        raise ValueError("bad rcpt_count %r" % text)
    return (match.group(1) or "==", int(match.group(2)))


def rcpt_holds(condition, count):
    operator, bound = condition
    return {"==": count == bound, ">": count > bound, ">=": count >= bound}[operator]


def group_rows(rows):
    """Rows of one connection together, in file order: Zeek logs one smtp.log row per mail
    transaction (trans_depth), so a connection may have several."""
    groups = OrderedDict()
    for row in rows:
        groups.setdefault((row["capture"],) + tuple(row[f] for f in TSV_TUPLE), []).append(row)
    return groups


def check_smtp_facts(args, captures, failures):
    if not have_tools("tshark"):
        skip("tshark is not installed (.ci/install-deps installs it)")
    rows = read_fact_rows(os.path.join(args.corpus, "expected", "smtp-facts.tsv"))
    by_name = {capture_name(path): path for path in captures}
    groups = group_rows(rows)
    names = sorted({key[0] for key in groups})
    missing = [name for name in names if name not in by_name]
    for name in missing:
        failures.add("smtp-facts.tsv names capture %s, which is not in the corpus" % name)
    names = [name for name in names if name in by_name]

    def one(name):
        path = by_name[name]
        # All TCP, not only port 25: rows with a partial 5-tuple are completed from
        # tshark's conversations, and some of those are on other ports.
        packets = run_tshark(path, "tcp && !icmp && !icmpv6")
        return run_sensor(args.binary, args.policy, path), tshark_connections(packets)

    readings = dict(zip(names, parallel(one, names)))
    book = ExceptionBook(SMTP_FACT_EXCEPTIONS, "tsv")
    counts = {"rows": 0, "connections": 0, "out_of_scope": 0, "facts": 0, "agreed": 0,
              "excepted": 0}
    print("%-40s %-48s %5s %s" % ("capture", "connection", "rows", "found and compared"))
    for group_key, group in groups.items():
        name = group_key[0]
        if name not in readings:
            continue
        counts["rows"] += len(group)
        run, connections = readings[name]
        if run.returncode != 0:
            failures.add("%s: the sensor exited %r: %s" % (name, run.returncode, run.stderr))
            continue
        check_fact_group(name, group, run, connections, book, failures, counts)
    book.report_unused(failures, set(readings))
    print("\nrows %d, connections %d (%d not TCP/25: checked to have no attempt), facts "
          "compared %d, agreed %d, listed exceptions %d" % (
              counts["rows"], counts["connections"], counts["out_of_scope"], counts["facts"],
              counts["agreed"], counts["excepted"]))


def check_fact_group(name, group, run, connections, book, failures, counts):
    first = group[0]
    where = "%s (smtp-facts.tsv line %d)" % (name, first["line"])
    candidates = [c for c in connections.values() if row_matches(first, c["key"])]
    if len(candidates) != 1:
        failures.add("%s: the row's 5-tuple matches %d tshark connections, not one: %s" % (
            where, len(candidates), [c["key"] for c in candidates]))
        return
    key = candidates[0]["key"]
    counts["connections"] += 1
    events = [e for e in run.attempts() if attempt_key(e) == key]
    label = "%s:%d > %s:%d" % key
    if key[3] != SMTP_PORT:
        # Attempts are TCP/25 connections (docs/concepts.md); the peers also log
        # submission, SMTPS and SMTP tunnelled through HTTP CONNECT on other ports.
        counts["out_of_scope"] += 1
        print("%-40s %-48s %5d no attempt expected (port %d)" % (name[:40], label[:48],
                                                                len(group), key[3]))
        if events:
            failures.add("%s: %d attempt event(s) for a connection to port %d" % (
                where, len(events), key[3]))
        return
    same_tuple = [c for c in connections.values() if c["key"] == key]
    if len(events) != len(same_tuple):
        failures.add("%s: %d attempt events for %s, tshark sees %d connection(s):\n    %s" % (
            where, len(events), label, len(same_tuple),
            "\n    ".join(json.dumps(e) for e in events)))
        return
    event = events[0]
    smtp = event.get("smtp") or {}
    before = counts["facts"]
    client_port = key[1]

    helos = {row["helo"] for row in group if row["helo"] != "-"}
    if len(helos) > 1:
        failures.add("%s: the rows disagree on helo: %s" % (where, sorted(helos)))
    elif helos:
        compare_fact(book, failures, counts, where, (name, client_port, "helo"), "helo",
                     helos.pop(), smtp.get("helo"), "the peer")

    # The sensor keeps the first MAIL FROM of the connection; Zeek's rows are in
    # transaction order, so the first row that has one.
    senders = [row["mail_from"] for row in group if row["mail_from"] != "-"]
    if senders:
        address = senders[0].strip().strip("<>")
        compare_fact(book, failures, counts, where, (name, client_port, "mail_from_domain"),
                     "mail_from domain", mail_from_domain(address),
                     smtp.get("mail_from_domain"), "the peer")

    # Several rows: one per Zeek transaction, so the connection's RCPT count is their sum.
    # (Zeek logs the set of rcptto addresses; a repeated address would count once there.)
    conditions = [parse_rcpt(row["rcpt_count"]) for row in group]
    known = [c for c in conditions if c is not None]
    if known:
        if len(known) > 1 and any(c[0] != "==" for c in known):
            failures.add("%s: cannot add up rcpt_count bounds %s" % (where, known))
        else:
            condition = (known[0][0], sum(c[1] for c in known))
            text = condition[0].replace("==", "") + str(condition[1])
            compare_fact(book, failures, counts, where, (name, client_port, "rcpt_count"),
                         "rcpt_count", text, smtp.get("rcpt_count", 0), "the peer",
                         agree=lambda _text, count: rcpt_holds(condition, count))

    states = {row["conn_state"] for row in group if row["conn_state"] != "-"}
    for state in states:
        if state not in CONN_STATES:
            failures.add("%s: no reading rule for conn_state %r; add one to CONN_STATES" % (
                where, state))
            continue
        present, absent = CONN_STATES[state]
        evidence = event.get("evidence", [])
        for evidence_name in present:
            compare_fact(book, failures, counts, where, (name, client_port, evidence_name),
                         "%s (%s)" % (evidence_name, state), True, evidence_name in evidence,
                         "the peer")
        for evidence_name in absent:
            compare_fact(book, failures, counts, where, (name, client_port, evidence_name),
                         "%s (%s)" % (evidence_name, state), False, evidence_name in evidence,
                         "the peer")

    for row in group:
        match = COMMUNITY_ID.search(row["source_of_fact"])
        if match:
            compare_fact(book, failures, counts, where, (name, client_port, "community_id"),
                         "community_id", match.group(1), event.get("community_id"), "the peer")
    print("%-40s %-48s %5d one attempt, %d fact(s)" % (name[:40], label[:48], len(group),
                                                        counts["facts"] - before))


# ---- Check: tshark-agreement ----

TSHARK_COMPARED = ("syn_ack", "helo", "mail_from_domain", "rcpt", "starttls_sent",
                   "starttls_accepted", "auth_sent", "auth_success")


def check_tshark_agreement(args, captures, failures):
    if not have_tools("tshark"):
        skip("tshark is not installed (.ci/install-deps installs it)")

    def one(capture):
        packets = run_tshark(capture, "tcp.port == %d && !icmp && !icmpv6" % SMTP_PORT)
        return run_sensor(args.binary, args.policy, capture), tshark_connections(packets,
                                                                                 SMTP_PORT)

    results = parallel(one, captures)
    book = ExceptionBook(TSHARK_EXCEPTIONS, "tshark")
    counts = {"captures": 0, "without": 0, "connections": 0, "facts": 0, "agreed": 0,
              "excepted": 0}
    print("%-40s %5s %8s %6s %6s" % ("capture", "conns", "attempts", "facts", "agreed"))
    checked = set()
    for capture, (run, connections) in zip(captures, results):
        name = capture_name(capture)
        attempts = run.attempts()
        if run.returncode != 0:
            failures.add("%s: the sensor exited %r: %s" % (name, run.returncode, run.stderr))
            continue
        # A connection the sensor must report: the client's SYN or its data is in the
        # capture (a lone SYN-ACK or RST from port 25 is backscatter, no attempt).
        tried = [c for c in connections.values()
                 if c["key"][3] == SMTP_PORT and (c["client_syn"] or c["client_payload"])]
        if not tried and not attempts:
            counts["without"] += 1
            continue
        checked.add(name)
        counts["captures"] += 1
        before = dict(counts)
        by_key = OrderedDict()
        for connection in tried:
            by_key.setdefault(connection["key"], ([], []))[0].append(connection)
        for event in attempts:
            by_key.setdefault(attempt_key(event), ([], []))[1].append(event)
        for key, (mine, theirs) in by_key.items():
            label = "%s %s:%d > %s:%d" % ((name,) + key)
            if len(mine) != len(theirs):
                failures.add("%s: tshark sees %d connection(s) (first frames %s), the sensor "
                             "reports %d attempt(s):\n    %s" % (
                                 label, len(mine), [c["first_frame"] for c in mine],
                                 len(theirs), "\n    ".join(json.dumps(e) for e in theirs)))
                continue
            for connection, event in pair_by_time(mine, theirs):
                counts["connections"] += 1
                ours = sensor_facts(event)
                for fact in TSHARK_COMPARED:
                    compare_fact(book, failures, counts, label, (name, key[1], fact), fact,
                                 connection[fact], ours[fact], "tshark")
        print("%-40s %5d %8d %6d %6d" % (name[:40], counts["connections"] -
                                         before["connections"], len(attempts),
                                         counts["facts"] - before["facts"],
                                         counts["agreed"] - before["agreed"]))
    book.report_unused(failures, checked)
    print("\ncaptures with TCP/25 %d (%d without, and without attempts), connections paired "
          "%d, facts compared %d, agreed %d, listed exceptions %d" % (
              counts["captures"], counts["without"], counts["connections"], counts["facts"],
              counts["agreed"], counts["excepted"]))


# ---- Main ----

CHECKS = {
    "all-captures": check_all_captures,
    "smtp-facts": check_smtp_facts,
    "tshark-agreement": check_tshark_agreement,
}


def sensor_name_of(policy):
    """The sensor name of our own policy file, which writes it as `sensor:` then `name:`."""
    with open(policy) as source:
        match = re.search(r"^sensor:\s*\n\s+name:\s*(\S+)", source.read(), re.MULTILINE)
    if match is None:
        raise ValueError("no sensor name in %s" % policy)
    return match.group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True, help="the op25b-watch executable")
    parser.add_argument("--corpus-dir", required=True, help="holds pcaps/ and expected/")
    parser.add_argument("--policy", required=True, help="tests/corpus/corpus.yaml")
    parser.add_argument("--check", required=True, choices=sorted(CHECKS))
    args = parser.parse_args()

    args.corpus = args.corpus_dir
    if not os.path.isdir(os.path.join(args.corpus, "pcaps")):
        fail_now("no corpus at %s" % args.corpus)
    captures = find_captures(args.corpus)
    if not captures:
        fail_now("no captures under %s" % os.path.join(args.corpus, "pcaps"))
    args.sensor_name = sensor_name_of(args.policy)
    failures = Failures()
    CHECKS[args.check](args, captures, failures)
    return failures.finish()


if __name__ == "__main__":
    sys.exit(main())
