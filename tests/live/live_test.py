#!/usr/bin/env python3
"""Live capture end to end: inside a network namespace of its own, the test makes a veth
pair, starts op25b-watch -i on one end, sends the example capture's frames into the other
end with an AF_PACKET socket, stops the sensor with SIGTERM and checks that the attempts
closed by the dialogue itself carry the verdicts the file replay gives. Port-25 attempts
inside VXLAN and GTP-U go through the kernel prefilter too.

Needs CAP_NET_ADMIN and CAP_NET_RAW (root in a container is enough); exits 77 (skipped)
when the namespace cannot be made.

usage: live_test.py --binary BIN --source-dir DIR
"""
import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
SENSOR_PIDS = []  # of the sensors capture_live started, newest last


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def frames(path):
    with open(path, "rb") as source:
        data = source.read()
    offset = 24
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        yield data[offset + 16:offset + 16 + length]
        offset += 16 + length


def inside_namespace(args):
    """Runs in the new namespace: veth pair, sensor, traffic, checks."""
    for command in (["ip", "link", "add", "op25b0", "type", "veth", "peer", "name", "op25b1"],
                    ["ip", "link", "set", "op25b0", "up"], ["ip", "link", "set", "op25b1", "up"],
                    ["ip", "link", "set", "lo", "up"]):
        if subprocess.run(command, stderr=subprocess.PIPE).returncode != 0:
            print("SKIP: cannot make a veth pair here: %s" % " ".join(command))
            return SKIP
    example = single_worker(args)
    tunnels = tunnels_through_prefilter(args)
    quiet = quiet_link(args)
    workers = two_workers(args)
    triangles = workers_triangular(args)
    delegated = workers_delegated_prefix(args)
    open_msas = workers_open_submission(args)
    spools = workers_spool(args)
    interfaces = workers_two_interfaces(args)
    unprivileged = workers_unprivileged(args)
    orphans = workers_stop_with_parent(args)
    operator = workers_operator_signals(args)
    migration = workers_submission_migration(args)
    print("live: %s; %s; %s; %s; %s; %s; %s; %s; %s; %s; %s; %s; %s" % (
        example, tunnels, quiet, workers, triangles, delegated, open_msas, spools, interfaces,
        unprivileged, orphans, operator, migration))
    return 0


def replay(args, policy, capture):
    out = subprocess.run([args.binary, "-q", "-c", policy, "-r", capture],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def stop(sensor, what, expect_status=0, stderr_out=None):
    """Stops the sensor with SIGTERM, as an operator would, and returns its events; its
    exit status must be expect_status. stderr_out, a list, gets its standard error."""
    sensor.send_signal(signal.SIGTERM)
    out, err = sensor.communicate(timeout=30)
    if sensor.returncode != expect_status:
        fail("%s: exit %d: %s" % (what, sensor.returncode, err.decode()))
    if stderr_out is not None:
        stderr_out.append(err.decode())
    return [json.loads(line) for line in out.decode().splitlines()]


def capture_live(args, policy, capture, extra, before_stop=None, expect_status=0,
                 stderr_out=None, quiet=True):
    """Runs the sensor on op25b1 while the capture's frames go into op25b0; before_stop,
    if given, is called once the frames are in and counted, before the sensor is stopped.
    stderr_out, a list, gets what the sensor wrote on standard error; without quiet, the
    sensor runs without -q (its summary is written)."""
    sensor = subprocess.Popen([args.binary] + (["-q"] if quiet else []) +
                              ["-c", policy, "-i", "op25b1"] + extra,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    SENSOR_PIDS.append(sensor.pid)
    time.sleep(1.0)  # the capture is active before traffic starts
    sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sender.bind(("op25b0", 0))
    sent = 0
    for frame in frames(capture):
        sender.send(frame)
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.01)  # keep the veth backlog small
    sender.close()
    time.sleep(1.5)  # TPACKET_V3 hands blocks over on its 100 ms timeout
    if before_stop is not None:
        before_stop()
    return sent, stop(sensor, "sensor %s" % extra, expect_status, stderr_out)


def single_worker(args):
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "example.pcap")
    expected = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
                for e in replay(args, policy, capture)
                if e["type"] == "attempt" and e["close_reason"] == "fin"}
    if len(expected) < 8:
        fail("the example replay closed only %d attempts by FIN" % len(expected))
    sent, events = capture_live(args, policy, capture, [])
    stats = events[-1]
    if stats["type"] != "sensor_stats" or not stats["final"]:
        fail("the last event is not the final sensor_stats")
    # The kernel strips the 802.1Q tag into metadata and libpcap puts it back, so every
    # frame sent must be counted; drops would show in sensor_stats.
    if stats["packets"] < sent:
        fail("sent %d frames, the sensor counted %d (drops %d)" % (sent, stats["packets"],
                                                                   stats["drops"]))
    live = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
            for e in events if e["type"] == "attempt" and e["close_reason"] == "fin"}
    if live != expected:
        missing = sorted(set(expected) - set(live))
        differing = sorted(k for k in expected if k in live and live[k] != expected[k])
        fail("live verdicts differ from the replay: missing %s, differing %s" %
             (missing, differing))
    return "%d frames sent, %d counted, %d attempts closed by FIN agree with the replay" % (
        sent, stats["packets"], len(live))


def droppable(capture):
    """Frames the policy's prefilter drops: plain UDP (no tunnel the decoder opens, not DNS)."""
    count = 0
    for frame in frames(capture):
        offset, ethertype = 14, struct.unpack_from(">H", frame, 12)[0]
        if ethertype == 0x8100:
            offset, ethertype = 18, struct.unpack_from(">H", frame, 16)[0]
        if ethertype != 0x0800 or frame[offset + 9] != 17:
            continue
        udp = offset + (frame[offset] & 0x0f) * 4
        source, destination = struct.unpack_from(">HH", frame, udp)
        if 53 not in (source, destination) and destination != 4789 and 2152 not in (
                source, destination):
            count += 1
    return count


def tunnels_through_prefilter(args):
    """A fabric's VXLAN and a mobile core's GTP-U carry port-25 attempts between tunnel ends
    that are not the ISP's, amid QUIC the prefilter (on by default live) drops: every attempt
    the dialogue closes arrives with the replay's verdict and evidence, and the QUIC does not
    (the veth's own neighbour discovery can only add packets, never take any away)."""
    policy = os.path.join(args.source_dir, "tests", "scenarios", "capture.yaml")
    said = []
    for name in ("scenario-capture-vxlan.pcap", "scenario-capture-gtp.pcap"):
        capture = os.path.join(args.source_dir, "pcaps", name)
        expected = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
                    for e in replay(args, policy, capture)
                    if e["type"] == "attempt" and e["close_reason"] == "fin"}
        if len(expected) < 2:
            fail("%s: the replay closed only %d attempts by FIN" % (name, len(expected)))
        dropped = droppable(capture)
        if dropped == 0:
            fail("%s: nothing for the prefilter to drop" % name)
        sent, events = capture_live(args, policy, capture, [])
        live = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
                for e in events if e["type"] == "attempt" and e["close_reason"] == "fin"}
        if live != expected:
            fail("%s live through the prefilter: got %r, the replay %r" % (name, live, expected))
        counted = events[-1]["packets"]
        if not sent - dropped <= counted < sent:
            fail("%s: sent %d frames, %d of them plain UDP; the sensor counted %d" %
                 (name, sent, dropped, counted))
        said.append("%s: %d attempts, %d of %d frames kept" % (name.split("-")[-1].split(".")[0],
                                                             len(live), counted, sent))
    return "tunnels through the prefilter (%s)" % ", ".join(said)


def quiet_link(args):
    """A link with nothing on it: the sensor's clock starts at its first idle tick, so the
    final coverage and sensor_stats carry the time they were written, not 1970, and the
    periodic reports would come on time."""
    # A pair of its own without IPv6, whose neighbour discovery would be traffic.
    subprocess.run(["ip", "link", "add", "op25q0", "type", "veth", "peer", "name", "op25q1"],
                   check=True)
    for interface in ("op25q0", "op25q1"):
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % interface, "w") as setting:
            setting.write("1")
        subprocess.run(["ip", "link", "set", interface, "up"], check=True)
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    started = time.time()
    sensor = subprocess.Popen([args.binary, "-q", "-c", policy, "-i", "op25q1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    SENSOR_PIDS.append(sensor.pid)
    time.sleep(1.5)
    events = stop(sensor, "quiet link")
    if not events or events[-1]["type"] != "sensor_stats" or not events[-1]["final"]:
        fail("quiet link: no final sensor_stats: %r" % events[-1:])
    if events[-1]["packets"] != 0:
        fail("quiet link: %d packets on a link nothing was sent on" % events[-1]["packets"])
    import calendar
    for event in events:
        seconds = calendar.timegm(time.strptime(event["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        if not started - 5 <= seconds <= time.time() + 5:
            fail("quiet link: a %s event stamped %s" % (event["type"], event["ts"]))
    return "a link without packets: final events stamped with the time they were written"


INTERVAL_SECONDS = 0.5


def short_interval_policy(args, name):
    """A scenario policy with a short stats_interval, so that a run of a few seconds has
    several intervals."""
    with open(os.path.join(args.source_dir, "tests", "scenarios", name)) as source:
        text = source.read()
    if "\nsensor:\n" not in "\n" + text or "stats_interval" in text:
        fail("%s: cannot set its stats_interval" % name)
    path = os.path.join(args.work_dir, "interval-" + name)
    with open(path, "w") as out:
        out.write(text.replace("sensor:\n", "sensor:\n  stats_interval: %dms\n" %
                               (INTERVAL_SECONDS * 1000), 1))
    return path


def coverage_key(event):
    return (event["pool"], event["ip_version"])


def check_one_voice(events, stderr, what):
    """The sensor speaks once, whatever its workers: coverage and sensor_stats carry no
    "worker" and come as sets (one coverage per pool and IP version, then one
    sensor_stats, all with one ts), one set per interval and one final set, which ends the
    output; standard error holds one summary. Returns the final set (coverage by key,
    sensor_stats) and the number of interval sets."""
    summaries = [line for line in stderr.splitlines() if line.startswith("op25b-watch: ") and
                 " packets, " in line]
    if len(summaries) != 1:
        fail("%s: %d summaries on stderr: %r" % (what, len(summaries), stderr))
    periodic = [e for e in events if e["type"] in ("coverage", "sensor_stats")]
    if any("worker" in e for e in periodic):
        fail("%s: coverage or sensor_stats of a worker: %r" %
             (what, [e for e in periodic if "worker" in e][:1]))
    if not periodic or events[-1] is not periodic[-1] or not periodic[-1]["final"]:
        fail("%s: the output does not end with the final sensor_stats" % what)
    keys = sorted(coverage_key(e) for e in periodic if e["type"] == "coverage" and e["final"])
    sets, pending = [], []
    for event in periodic:
        if event["type"] == "coverage":
            pending.append(event)
            continue
        if sorted(coverage_key(e) for e in pending) != keys or \
                any(e["ts"] != event["ts"] or e["final"] != event["final"] for e in pending):
            fail("%s: a sensor_stats at %s after coverage %r, expected one of each of %r" %
                 (what, event["ts"], [(coverage_key(e), e["ts"]) for e in pending], keys))
        sets.append((event, {coverage_key(e): e for e in pending}))
        pending = []
    if [stats["final"] for stats, _ in sets].count(True) != 1:
        fail("%s: %d final sets" % (what, [stats["final"] for stats, _ in sets].count(True)))
    import calendar
    intervals = [int((calendar.timegm(time.strptime(stats["ts"][:19], "%Y-%m-%dT%H:%M:%S")) +
                      float(stats["ts"][19:-1])) // INTERVAL_SECONDS) for stats, _ in sets[:-1]]
    if len(set(intervals)) != len(intervals):
        fail("%s: two sets in one interval: %r" % (what, [s["ts"] for s, _ in sets]))
    return sets[-1], len(sets) - 1


def check_final_figures(final, events, what):
    """The final set adds up what the run wrote: attempts by pool, IP version and verdict,
    and the lines of each type."""
    stats, coverage = final
    attempts = [e for e in events if e["type"] == "attempt"]
    for key, event in coverage.items():
        for verdict in ("allowed", "blocked", "leaked", "would_block", "unknown"):
            written = sum(1 for e in attempts if e.get("pool") == key[0] and e["verdict"] == verdict
                          and (":" in e["src_ip"]) == (key[1] == 6))
            if event[verdict] != written:
                fail("%s: final coverage %s says %d %s, the workers wrote %d" %
                     (what, key, event[verdict], verdict, written))
    for kind in ("attempt", "coverage", "sensor_stats"):
        if stats["events_" + kind] != sum(1 for e in events if e["type"] == kind):
            fail("%s: the final sensor_stats counts %d %s lines, the output holds %d" %
                 (what, stats["events_" + kind], kind,
                  sum(1 for e in events if e["type"] == kind)))


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
METRIC_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_line(line):
    """(name, labels, value) of a line of the exposition format (every series carries at
    least sensor="..."), or (None, {}, None) for a comment."""
    match = METRIC_LINE.match(line)
    if line.startswith("#") or match is None:
        return None, {}, None
    labels = dict(METRIC_LABEL.findall(match.group(2) or ""))
    return match.group(1), labels, float(match.group(3))


def two_workers(args):
    """--workers 2: the packets of each attempt, ICMP errors included, meet in one worker,
    so every attempt the replay decides on evidence gets the same verdict and evidence; the
    parent speaks for the whole sensor (check_one_voice), and its figures are a single
    process's on the same traffic."""
    policy = short_interval_policy(args, "edge.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "scenario-edge-verdicts.pcap")
    # Silence is judged by timers that a short live run does not reach: compare the
    # attempts decided by what was seen.
    expected = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
                for e in replay(args, policy, capture)
                if e["type"] == "attempt" and e["evidence"] not in ([], ["no_reply"])}
    if not any("icmp_admin_prohibited" in evidence for _, evidence in expected.values()):
        fail("the scenario has no ICMP-blocked attempt to follow across workers")
    # One Prometheus endpoint for both: the parent serves the workers' sum.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scraped = {}

    def scrape():
        import urllib.request
        time.sleep(0.5)  # a worker publishes every 0.25 s
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as reply:
            for line in reply.read().decode().splitlines():
                name, labels, value = metric_line(line)
                if name == "op25b_packets_total":
                    scraped["packets"] = value
                elif name == "op25b_worker_packets_total" and labels.get("worker") in ("0", "1"):
                    scraped[int(labels["worker"])] = value

    # One report from both: the parent merges the workers' report states.
    report_path = os.path.join(args.work_dir, "workers-report.json")
    errors = []
    sent, events = capture_live(args, policy, capture,
                                ["--workers", "2", "--metrics", "127.0.0.1:%d" % port,
                                 "--report", report_path], scrape, stderr_out=errors,
                                quiet=False)
    final, intervals = check_one_voice(events, errors[0], "--workers 2")
    if intervals < 2:
        fail("--workers 2: %d interval sets in a run of several seconds" % intervals)
    check_final_figures(final, events, "--workers 2")
    stats = final[0]
    if stats["packets"] < sent:
        fail("sent %d frames, the workers counted %d" % (sent, stats["packets"]))
    # The endpoint serves the two workers' sum beside each worker's own count: both saw
    # packets, all that was sent, no more than the final count (the namespace's own IPv6
    # neighbour discovery may still add a packet between the scrape and the stop).
    got = scraped.get("packets", 0)
    if not (sent <= got <= stats["packets"]) or scraped.get(0, 0) + scraped.get(1, 0) != got or \
            min(scraped.get(0, 0), scraped.get(1, 0)) == 0:
        fail("/metrics says %s packets, by worker %s and %s; sent %d, the final count %d" %
             (got, scraped.get(0), scraped.get(1), sent, stats["packets"]))
    attempts = [e for e in events if e["type"] == "attempt"]
    seen = {}
    for event in attempts:
        key = (event["src_ip"], event["src_port"])
        if key in expected:
            if key in seen:
                fail("attempt %s reported by two workers" % (key,))
            seen[key] = (event["verdict"], event["evidence"])
    if seen != expected:
        missing = sorted(set(expected) - set(seen))
        differing = sorted((k, seen[k], expected[k]) for k in expected
                           if k in seen and seen[k] != expected[k])
        fail("two workers differ from the replay: missing %s, differing %s" %
             (missing, differing))
    totals = check_merged_report(report_path, events, stats)
    # One process on the same traffic, sent the same way, gives the same coverage.
    alone_errors = []
    _, alone = capture_live(args, policy, capture, [], stderr_out=alone_errors, quiet=False)
    alone_final, _ = check_one_voice(alone, alone_errors[0], "one process")
    figures = {key: [event[v] for v in ("allowed", "blocked", "leaked", "would_block",
                                        "unknown")] for key, event in final[1].items()}
    alone_figures = {key: [event[v] for v in ("allowed", "blocked", "leaked", "would_block",
                                              "unknown")]
                     for key, event in alone_final[1].items()}
    if figures != alone_figures:
        fail("--workers 2's final coverage %r, one process's %r" % (figures, alone_figures))
    return ("--workers 2: %d frames sent, %d packets counted (/metrics: %d = %d + %d), %d "
            "interval sets and one final set of coverage, one summary; %d attempts decided on "
            "evidence agree with the replay, the final coverage with one process's; the merged "
            "report counts %d attempts, %d packets" %
            (sent, stats["packets"], scraped["packets"], scraped[0], scraped[1], intervals,
             len(seen), totals["attempts"], totals["packets"]))


def workers_triangular(args):
    """--workers 3 on the triangular-spam scenario: the fanout gives a spoofed SYN to the
    relay's worker and the answer to the spammer's, so the workers tell each other of
    spoofed SYNs (src/workers/inbox.c). Every triangle the replay joins is joined once, with
    the replay's fields, and at least one was split between two workers."""
    policy = os.path.join(args.source_dir, "tests", "scenarios", "evasion.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "scenario-evasion-triangular.pcap")
    fields = ("src_ip", "src_port", "dst_ip", "dst_port", "relay_ip", "variant", "tunnel",
              "tunnel_src", "segment", "reply_segment", "isn", "syn_count")

    def triangle(event):
        return tuple(event.get(field) for field in fields)

    expected = sorted(triangle(e) for e in replay(args, policy, capture)
                      if e["type"] == "triangular_spam")
    if len(expected) < 5:
        fail("the triangular scenario's replay joined %d triangles" % len(expected))
    sent, events = capture_live(args, policy, capture, ["--workers", "3"])
    joined = [e for e in events if e["type"] == "triangular_spam"]
    if sorted(triangle(e) for e in joined) != expected:
        fail("three workers joined %r, the replay %r" %
             (sorted(triangle(e) for e in joined), expected))
    # The spoofed source's window is the SYN's worker's.
    syn_worker = {(e["src_ip"], e["src_port"]): e.get("worker") for e in events
                  if e["type"] == "spoofed_source"}
    split = sum(1 for e in joined
                if syn_worker.get((e["relay_ip"], e["src_port"])) not in (None, e.get("worker")))
    if split == 0:
        fail("no triangle was split between workers: %r" %
             [(e.get("worker"), syn_worker.get((e["relay_ip"], e["src_port"]))) for e in joined])
    return "--workers 3: %d triangles joined as the replay joins them, %d across workers" % (
        len(joined), split)


def workers_open_submission(args):
    """--workers 3 on the open-submission scenario: subscribers of one MSA reach different
    workers, and the workers claim each server once a window in shared memory
    (src/workers/once_share.c), so no server is reported twice in a window."""
    policy = os.path.join(args.source_dir, "tests", "scenarios", "submission.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "scenario-submission-open.pcap")
    servers = {e["dst_ip"] for e in replay(args, policy, capture)
               if e["type"] == "open_submission"}
    sent, events = capture_live(args, policy, capture, ["--workers", "3"])
    found = [e for e in events if e["type"] == "open_submission"]
    if {e["dst_ip"] for e in found} != servers:
        fail("three workers reported open MSAs %r, the replay %r" %
             (sorted({e["dst_ip"] for e in found}), sorted(servers)))
    # Live packet time is the wall clock; the policy's window is the default 300 s.
    reported = {}
    for event in found:
        window = event["ts"][:14] + str(int(event["ts"][14:16]) // 5)
        reported.setdefault((event["dst_ip"], window), []).append(event.get("worker"))
    twice = {key: workers for key, workers in reported.items() if len(workers) > 1}
    if twice:
        fail("servers reported more than once a window, by workers: %r" % twice)
    # A worker that got no packet still stamps its final events with the time (not 1970).
    if any(e["ts"].startswith("1970") for e in events):
        fail("events stamped 1970: %r" % sorted({e["type"] for e in events
                                                 if e["ts"].startswith("1970")}))
    return "--workers 3: %d open MSAs, each once a window" % len(servers)


def migration_totals(events):
    """Every connections_* count of the submission_migration events, summed per MSA and
    pool: what the workers' events must add up to."""
    totals = {}
    for event in events:
        if event["type"] != "submission_migration":
            continue
        for field, value in event.items():
            if field.startswith("connections"):
                key = (event["msa"], event["pool"], field)
                totals[key] = totals.get(key, 0) + value
    return totals


def without_times(report):
    """The report's move to 587, but the times (live, packet time is the wall clock)."""
    section = report["submission_migration"]
    items = [{k: v for k, v in item.items() if k not in ("first_seen", "last_seen")}
             for item in section["planned_close"]["items"]]
    return section["rows"], sorted(items, key=lambda i: (i["msa"], i["subscriber"]))


def workers_submission_migration(args):
    """--workers 2 on the migration mix under migration-close.yaml: each worker counts the
    subscribers the fanout gives it, so the workers' submission_migration events add up to
    the replay's connections, and the merged report's rows (connections and distinct
    subscribers over the run) and its list of who breaks when port 25 closes are the
    replay's. (Per interval the subscribers differ from the replay's: live, the whole run is
    one or two intervals of the wall clock.)"""
    policy = os.path.join(args.source_dir, "tests", "scenarios", "migration-close.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "scenario-migration-mix.pcap")
    replay_report = os.path.join(args.work_dir, "migration-replay.json")
    expected = migration_totals(json.loads(line) for line in subprocess.run(
        [args.binary, "-q", "-c", policy, "-r", capture, "--report", replay_report],
        stdout=subprocess.PIPE, check=True).stdout.decode().splitlines())
    report_path = os.path.join(args.work_dir, "migration-workers.json")
    sent, events = capture_live(args, policy, capture, ["--workers", "2", "--report",
                                                        report_path])
    got = migration_totals(events)
    if {k: v for k, v in got.items() if v} != {k: v for k, v in expected.items() if v}:
        fail("two workers' submission connections %r, the replay's %r" % (got, expected))
    writers = {e.get("worker") for e in events if e["type"] == "submission_migration"}
    if writers != {0, 1}:
        fail("submission_migration events from workers %r: the test wants both" % writers)
    with open(replay_report) as one, open(report_path) as merged:
        if without_times(json.load(merged)) != without_times(json.load(one)):
            fail("the two workers' merged report counts the move to 587 otherwise than the "
                 "replay's")
    return "--workers 2: %d submission connections as the replay, the merged report's too" % (
        sum(v for k, v in expected.items() if k[2] in ("connections_25", "connections_587",
                                                         "connections_465")))


def syn_frame(src, dst, sport, vlan):
    """An Ethernet frame on an 802.1Q VLAN: a TCP SYN from src:sport to dst:25 over IPv6."""
    tcp = struct.pack(">HHIIBBHHH", sport, 25, 1000 + sport, 0, 5 << 4, 0x02, 64240, 0, 0)
    ip6 = struct.pack(">IHBB", 6 << 28, len(tcp), 6, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    ethernet = bytes.fromhex("020000000002" "020000000001") + struct.pack(">HHH", 0x8100, vlan,
                                                                         0x86dd)
    return ethernet + ip6 + tcp


def workers_delegated_prefix(args):
    """--workers 4 under the example policy, whose FTTH pool delegates a /56 to each
    subscriber: one home's attempts from sixteen of its /64s all go to one worker, which
    keeps its bot score and windows whole (the fanout hashes the /56)."""
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    capture = os.path.join(args.work_dir, "delegated.pcap")
    sources = ["2001:db8:100:42%02x::%x" % (i * 16 + 3, i + 1) for i in range(16)]
    with open(capture, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, source in enumerate(sources):
            frame = syn_frame(source, "2001:db8:9000::%x" % (i + 1), 40000 + i, 100)
            out.write(struct.pack("<IIII", 1, i, len(frame), len(frame)) + frame)
    sent, events = capture_live(args, policy, capture, ["--workers", "4"])
    workers = {e["src_ip"]: e.get("worker") for e in events
               if e["type"] == "attempt" and e["src_ip"] in sources}
    if len(workers) != len(sources):
        fail("attempts from %d of the home's 16 /64s: %r" % (len(workers), sorted(workers)))
    if len(set(workers.values())) != 1:
        fail("one /56 spread over workers %r" % sorted(set(workers.values())))
    return "--workers 4: a delegated /56's attempts from 16 /64s all in worker %d" % (
        workers[sources[0]])


def workers_spool(args):
    """--workers with Kafka and --spool, no broker reachable: a spool is one process's (it is
    locked), so each worker keeps its own, DIR/worker-N, and neither is refused; a later run
    that does not start those workers says their events wait there."""
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "example.pcap")
    spool = os.path.join(args.work_dir, "spool")
    kafka = ["-k", "127.0.0.1:9", "--kafka-timeout", "1s", "--spool", spool]
    errors = []
    capture_live(args, policy, capture, ["--workers", "2"] + kafka, expect_status=1,
                 stderr_out=errors)
    if "in use" in errors[0]:
        fail("a worker could not take its spool: %s" % errors[0])
    kept = 0
    for worker in (0, 1):
        directory = os.path.join(spool, "worker-%d" % worker)
        segments = [name for name in os.listdir(directory) if name.endswith(".seg")]
        said = [line for line in errors[0].splitlines()
                if "kept in spool %s for the next start" % directory in line]
        if not segments or len(said) != 1:
            fail("worker %d: segments %r, stderr %r" % (worker, segments, errors[0]))
        kept += int(said[0].split(" kept in spool")[0].split()[-1])
    out = subprocess.run([args.binary, "-c", policy, "-r", capture] + kafka,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    for worker in (0, 1):
        warning = "%s/worker-%d holds events of an earlier run's worker %d" % (spool, worker,
                                                                              worker)
        if warning not in out.stderr.decode():
            fail("a run without workers does not say %r: %s" % (warning, out.stderr.decode()))
    return "--workers 2 with --spool: %d events kept in two workers' spools" % kept


def workers_two_interfaces(args):
    """--workers 2 on two interfaces: each interface is spread over the workers in a fanout
    group of its own (the kernel takes sockets of one device only into a group), and every
    attempt either capture decides on evidence is reported once."""
    for command in (["ip", "link", "add", "op25c0", "type", "veth", "peer", "name", "op25c1"],
                    ["ip", "link", "set", "op25c0", "up"], ["ip", "link", "set", "op25c1", "up"]):
        subprocess.run(command, check=True)
    policy = os.path.join(args.source_dir, "tests", "scenarios", "edge.yaml")
    captures = {"op25b0": os.path.join(args.source_dir, "pcaps", "scenario-edge-verdicts.pcap"),
                "op25c0": os.path.join(args.source_dir, "pcaps", "scenario-core-verdicts.pcap")}
    expected = {}
    for capture in captures.values():
        expected.update({(e["src_ip"], e["src_port"], e["dst_ip"]): (e["verdict"], e["evidence"])
                         for e in replay(args, policy, capture)
                         if e["type"] == "attempt" and e["evidence"] not in ([], ["no_reply"])})
    sensor = subprocess.Popen([args.binary, "-q", "-c", policy, "-i", "op25b1", "-i", "op25c1",
                               "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    sent = 0
    for interface, capture in captures.items():
        sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sender.bind((interface, 0))
        for frame in frames(capture):
            sender.send(frame)
            sent += 1
            if sent % 50 == 0:
                time.sleep(0.01)
        sender.close()
    time.sleep(1.5)
    events = stop(sensor, "two interfaces, two workers")
    finals = [e for e in events if e["type"] == "sensor_stats" and e["final"]]
    if len(finals) != 1 or finals[0]["packets"] < sent:
        fail("sent %d frames on two interfaces, the final sensor_stats count %r" %
             (sent, [e["packets"] for e in finals]))
    seen = {}
    for event in events:
        key = (event.get("src_ip"), event.get("src_port"), event.get("dst_ip"))
        if event["type"] == "attempt" and key in expected:
            if key in seen:
                fail("attempt %s reported twice" % (key,))
            seen[key] = (event["verdict"], event["evidence"])
    if seen != expected:
        fail("two interfaces: missing %s, differing %s" % (
            sorted(set(expected) - set(seen)),
            sorted(k for k in expected if k in seen and seen[k] != expected[k])))
    return "--workers 2 on two interfaces: %d frames, %d attempts decided on evidence agree" % (
        sent, len(seen))


def workers_unprivileged(args):
    """--workers 2 -u nobody: the workers drop root once their capture is open, and the
    parent, which serves --metrics and writes the merged --report, drops it too once they
    have: no process is left running as root."""
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return "-u with workers: no user nobody here, not tested"
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "example.pcap")
    # The parent writes the report as nobody: the directory must let it.
    outputs = os.path.join(args.work_dir, "unprivileged")
    os.makedirs(outputs)
    os.chmod(outputs, 0o777)
    os.chmod(args.work_dir, 0o755)
    report_path = os.path.join(outputs, "report.json")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen = {}

    def inspect():
        time.sleep(0.5)
        pids = [SENSOR_PIDS[-1]]
        with open("/proc/%d/task/%d/children" % (pids[0], pids[0])) as children:
            pids += [int(pid) for pid in children.read().split()]
        for pid in pids:
            with open("/proc/%d/status" % pid) as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            seen[pid] = fields["Uid"].split()[:3]
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as reply:
            seen["metrics"] = b"op25b_packets_total" in reply.read()

    capture_live(args, policy, capture, ["--workers", "2", "-u", "nobody", "--metrics",
                                         "127.0.0.1:%d" % port, "--report", report_path],
                 inspect)
    uids = {pid: uid for pid, uid in seen.items() if pid != "metrics"}
    if len(uids) != 3 or any(uid != [str(nobody.pw_uid)] * 3 for uid in uids.values()):
        fail("-u nobody with two workers: processes run as %r" % uids)
    if not seen.get("metrics"):
        fail("-u nobody with two workers: /metrics did not answer")
    with open(report_path) as source:
        report = json.load(source)
    if report["totals"]["packets"] == 0:
        fail("-u nobody with two workers: the merged report counts no packet")
    return "--workers 2 -u nobody: parent and workers run as uid %d, metrics and report out" % (
        nobody.pw_uid)


def workers_stop_with_parent(args):
    """A parent killed outright (SIGKILL, the OOM killer) cannot pass SIGTERM on: its workers,
    with or without -u, are told by the kernel instead, and end as on SIGTERM. With no parent
    to speak for the sensor, each writes its own final coverage and sensor_stats, marked
    with its "worker", rather than lose them."""
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    results = []
    for extra in ([], ["-u", "nobody"]):
        events_path = os.path.join(args.work_dir, "orphans-%d.ndjson" % len(results))
        open(events_path, "w").close()
        os.chmod(events_path, 0o666)
        # No pipe of ours: a worker left behind must not keep the test's output open.
        sensor = subprocess.Popen([args.binary, "-q", "-c", policy, "-i", "op25b1",
                                   "--workers", "2", "-o", events_path] + extra,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        with open("/proc/%d/task/%d/children" % (sensor.pid, sensor.pid)) as children:
            workers = [int(pid) for pid in children.read().split()]
        if len(workers) != 2:
            fail("expected two workers, found %r" % workers)
        sensor.kill()
        sensor.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(running(pid) for pid in workers):
            time.sleep(0.1)
        if any(running(pid) for pid in workers):
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            fail("workers %r still run %s after their parent was killed" % (workers, extra))
        with open(events_path) as events:
            finals = [json.loads(line) for line in events
                      if '"sensor_stats"' in line and '"final":true' in line]
        if sorted(e.get("worker") for e in finals) != [0, 1]:
            fail("workers without their parent %s wrote final stats of %r" %
                 (extra, [e.get("worker") for e in finals]))
        results.append("%s" % (" ".join(extra) or "as root"))
    return "workers end with their killed parent (%s)" % ", ".join(results)


def workers_operator_signals(args):
    """--workers 2 with -o FILE: the parent passes SIGHUP and SIGUSR1 on. After logrotate's
    move and a SIGHUP the parent and each worker re-open the path, so all write the rest of
    their events to the new file (a worker on its next idle tick: the link is quiet by
    then): the attempts both workers still hold and close at the stop, and the parent's
    final set. Each SIGUSR1 gives one sensor_stats for the whole sensor, written by the
    parent once both workers have answered. Every line is whole in either file. The SIGHUP
    also comes with the policy's sensor renamed: the parent takes it first and both workers
    follow, so every event of the new file carries the new name."""
    example = os.path.join(args.source_dir, "rules", "example.yaml")
    policy = os.path.join(args.work_dir, "operator-signals.yaml")
    with open(example) as source:
        example_text = source.read()
    old_name = re.search(r"^  name: (\S+)$", example_text, re.M).group(1)
    new_name = old_name + "-renamed"
    with open(policy, "w") as out:
        out.write(example_text)
    capture = os.path.join(args.source_dir, "pcaps", "example.pcap")
    events_path = os.path.join(args.work_dir, "operator-signals.ndjson")
    rotated = events_path + ".1"

    asked_at = []

    def rotate_and_ask():
        os.rename(events_path, rotated)
        with open(policy, "w") as out:
            out.write(re.sub(r"^  name: \S+$", "  name: " + new_name, example_text, count=1,
                             flags=re.M))
        parent = SENSOR_PIDS[-1]
        os.kill(parent, signal.SIGHUP)
        time.sleep(1.0)
        for _ in range(2):
            asked_at.append(time.time())
            os.kill(parent, signal.SIGUSR1)
            time.sleep(0.7)

    # With --metrics too: the parent's server thread must leave the signals to the parent.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    capture_live(args, policy, capture, ["--workers", "2", "-o", events_path, "--metrics",
                                         "127.0.0.1:%d" % port], before_stop=rotate_and_ask)
    files = {}
    for path in (rotated, events_path):
        if not os.path.exists(path):
            fail("operator signals: %s is missing" % path)
        with open(path) as source:
            text = source.read()
        if text and not text.endswith("\n"):
            fail("operator signals: %s ends in a partial line" % path)
        try:
            files[path] = [json.loads(line) for line in text.splitlines()]
        except ValueError as error:
            fail("operator signals: %s holds a broken line: %s" % (path, error))
    old, new = files[rotated], files[events_path]
    if not any(e["type"] == "attempt" for e in old):
        fail("operator signals: the attempts before the SIGHUP are not in the moved file")
    finals = [e for e in new if e["type"] == "sensor_stats" and e["final"]]
    if len(finals) != 1 or "worker" in finals[0]:
        fail("operator signals: the new file has final sensor_stats %r" % finals)
    # The attempts still open at the stop are written then: by both workers, to the new
    # file (example.pcap leaves some unanswered with each worker).
    closed = [(e.get("worker"), path) for path, lines in files.items() for e in lines
              if e["type"] == "attempt" and e["close_reason"] == "shutdown"]
    if {worker for worker, _ in closed} != {0, 1} or {path for _, path in closed} != {events_path}:
        fail("operator signals: attempts closed at the stop, by worker and file: %r" % closed)
    # Two SIGUSR1: two sensor_stats from the parent, each apart from a periodic set (a
    # periodic one, once a minute, comes after its coverage events, with their time).
    periodic = {e["ts"] for e in new if e["type"] == "coverage"}
    import calendar
    asked = [calendar.timegm(time.strptime(e["ts"][:19], "%Y-%m-%dT%H:%M:%S")) +
             float(e["ts"][19:-1]) for e in new
             if e["type"] == "sensor_stats" and not e["final"] and e["ts"] not in periodic]
    if len(asked) != 2 or any(not sent - 1 <= got <= sent + 1.5
                              for sent, got in zip(asked_at, asked)):
        fail("operator signals: SIGUSR1 at %r gave sensor_stats at %r" % (asked_at, asked))
    if any("worker" in e for e in new if e["type"] == "sensor_stats"):
        fail("operator signals: a worker wrote a sensor_stats")
    names = {(e.get("worker"), e["sensor"]) for e in new}
    if {name for _, name in names} != {new_name} or {e["sensor"] for e in old} != {old_name}:
        fail("operator signals: sensor names after the reload (worker, name): %r, before: %r"
             % (names, {e["sensor"] for e in old}))
    return ("--workers 2: SIGHUP re-opened the parent's and both workers' output and both "
            "took the renamed policy, each SIGUSR1 gave one sensor_stats")


def running(pid):
    """Still running: neither gone nor a zombie waiting for its new parent."""
    try:
        with open("/proc/%d/status" % pid) as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1]
                           for line in status)
    except FileNotFoundError:
        return False


def check_merged_report(path, events, stats):
    """The report the parent wrote adds up both workers and its own lines: the packets of
    the final sensor_stats, and every event written, by type and verdict."""
    with open(path) as source:
        report = json.load(source)
    totals = report["totals"]
    if totals["packets"] != stats["packets"]:
        fail("the merged report counts %d packets, the final sensor_stats %d" %
             (totals["packets"], stats["packets"]))
    attempts = [e for e in events if e["type"] == "attempt"]
    by_worker = {e.get("worker") for e in attempts}
    if by_worker != {0, 1}:
        fail("attempts came from workers %r: the report merge is not exercised" % by_worker)
    if totals["attempts"] != len(attempts):
        fail("the merged report counts %d attempts, the workers wrote %d" %
             (totals["attempts"], len(attempts)))
    for kind in ("attempt", "coverage", "sensor_stats"):
        if totals["events"][kind] != sum(1 for e in events if e["type"] == kind):
            fail("the merged report counts %d %s events, the output holds %d" %
                 (totals["events"][kind], kind, sum(1 for e in events if e["type"] == kind)))
    for verdict in ("allowed", "blocked", "leaked", "would_block", "unknown"):
        written = sum(1 for e in attempts if e["verdict"] == verdict)
        if totals[verdict] != written:
            fail("the merged report counts %d %s, the workers wrote %d" %
                 (totals[verdict], verdict, written))
    if report["end_reason"] != "shutdown":
        fail("the merged report ends on %r" % report["end_reason"])
    return totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--inside", action="store_true")
    parser.add_argument("--work-dir")
    args = parser.parse_args()
    if args.inside:
        sys.exit(inside_namespace(args))
    # A namespace of our own: the veth pair and the capture touch nothing on the host.
    with tempfile.TemporaryDirectory(prefix="op25b-live-") as work_dir:
        command = ["unshare", "--net", sys.executable, os.path.abspath(__file__), "--inside",
                   "--binary", args.binary, "--source-dir", args.source_dir,
                   "--work-dir", work_dir]
        try:
            status = subprocess.run(command, timeout=120).returncode
        except FileNotFoundError:
            print("SKIP: unshare is missing")
            sys.exit(SKIP)
    if status not in (0, SKIP) and os.geteuid() != 0:
        print("SKIP: live capture needs root or CAP_NET_ADMIN")
        sys.exit(SKIP)
    sys.exit(status)


if __name__ == "__main__":
    main()
