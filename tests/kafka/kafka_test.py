#!/usr/bin/env python3
"""End-to-end tests of the Kafka sink against librdkafka's mock cluster (mock_broker),
read back with a real consumer (kcat). Standard library only.

Each case replays scenario captures from pcaps/ with the policies of tests/scenarios/
(manifest.txt) and checks what arrived on the topic against the NDJSON file the same run
wrote with -o, which holds the same events byte for byte:
  replay       every scenario: every event on the topic, keyed by its subscriber (an IPv4
               address, or an IPv6 subscriber prefix holding the address), with headers
               type, sensor and v, values equal to the file's lines, in the same order
               per key; and the same events as a run without Kafka
  subscriber   a /56 subscriber (the example policy delegates /56s) whose attempts come
               from sixteen of its /64s, a bot: every event about it keyed by the /56 and
               in one partition of eight
  broker-late  the broker is down when the sensor starts and comes up mid-stream
  outage       the broker goes down and comes back mid-stream: nothing lost, nothing
               duplicated
  spool        a tiny producer memory bound: the spool takes over, everything arrives in
               order (one partition, so the order is total)
  restart      events left in the spool by a run that could not deliver them go out first
               on the next start
  unreachable  no broker at all and a short timeout: exit 1, the count on stderr
  options      Kafka options without -k, bad -X: exit 2
  defaults     the producer batches (linger.ms 50) and compresses (lz4) by default, as -v
               says; -X overrides each; a compressed topic reads back whole
  full-disk    the spool on a 64 KiB tmpfs that fills up while the broker is down, then a
               second run with space freed and the broker up: delivered + reported lost =
               produced, exactly; every segment on disk whole (no zero padding, no torn
               tail). Mounts the tmpfs in the test's own mount namespace (root), exit 77
               (skipped) where that is not permitted
  damaged      segments damaged between two runs (zero padding, a torn record, an empty
               file): their whole records are delivered, then they are renamed aside to
               NAME.damaged, and the error naming them survives -q
"""
import argparse
import ctypes
import ipaddress
import json
import re
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

ARGS = None
KCAT_FORMAT = "%p\\t%o\\t%k\\t%h\\t%S\\t%s\\n"
# Stats that only a run with Kafka has nonzero: they differ from a run without it.
SINK_STATS = ("events_queued", "events_spooled", "events_dropped", "sink_errors",
              "kafka_errors")


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


class MockBroker:
    """The mock cluster process; orders go to its standard input."""

    def __init__(self, partitions=3, down=False, topic="op25b.events"):
        command = [ARGS.mock_broker, "--topic", topic, "--partitions", str(partitions)]
        if down:
            command.append("--down")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        universal_newlines=True)
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            fail("mock_broker printed no bootstrap address")

    def order(self, text):
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != "ok " + text:
            fail("mock_broker answered %r to %r" % (answer, text))

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        if self.process.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.process.kill()


def scenarios():
    path = os.path.join(ARGS.source_dir, "tests", "scenarios", "manifest.txt")
    found = []
    with open(path) as manifest:
        for line in manifest:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                found.append((fields[0], fields[1], fields[2:]))
    if not found:
        fail("no scenarios in " + path)
    return found


def scenario(name):
    for entry in scenarios():
        if entry[0] == name:
            return entry
    fail("no scenario %s in manifest.txt" % name)


def policy_path(policy):
    return os.path.join(ARGS.source_dir, "tests", "scenarios", policy)


def capture_path(capture):
    return os.path.join(ARGS.source_dir, "pcaps", capture)


def sensor_command(policy, captures, *extra):
    command = [ARGS.binary, "-q", "-c", policy_path(policy)]
    for capture in captures:
        command += ["-r", capture if capture == "-" else capture_path(capture)]
    return command + list(extra)


def sensor_directory():
    """Where the sensor runs, as in the scenario tests: policies name some files (GeoIP
    databases) relative to pcaps/."""
    return os.path.join(ARGS.source_dir, "pcaps")


def run(command, expect_status=0, stdin_bytes=None):
    started = time.monotonic()
    result = subprocess.run(command, input=stdin_bytes, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60, cwd=sensor_directory())
    if expect_status is not None and result.returncode != expect_status:
        fail("%s exited %d, expected %d:\n%s" % (" ".join(command), result.returncode,
                                                expect_status,
                                                result.stderr.decode(errors="replace")))
    return result, time.monotonic() - started


def consume(address, topic):
    """Every message on the topic, in partition order: (partition, offset, key, headers,
    value) with the value as bytes."""
    # Short fetch waits: kcat -e otherwise idles half a second per partition at its end.
    result = subprocess.run([ARGS.kcat, "-C", "-b", address, "-t", topic, "-e", "-q",
                             "-X", "fetch.wait.max.ms=10", "-X", "fetch.error.backoff.ms=10",
                             "-f", KCAT_FORMAT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=30)
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
        value = data[at:at + length]
        if data[at + length:at + length + 1] != b"\n":
            fail("kcat output is not framed as expected at byte %d" % at)
        at += length + 1
        messages.append((int(fields[0]), int(fields[1]), fields[2], fields[3], value))
    return messages


def file_lines(path):
    with open(path, "rb") as source:
        data = source.read()
    if data and not data.endswith(b"\n"):
        fail("%s does not end in a newline" % path)
    return data.split(b"\n")[:-1]


def expected_key(event):
    """The sensor for sensor-level events (dashboards/events.md); None for the others, whose
    key key_names_subscriber checks."""
    if event["type"] in ("coverage", "sensor_stats", "submission_migration"):
        return event["sensor"]
    return None


def key_names_subscriber(key, event):
    """The key of an event about a subscriber is the subscriber: one of the event's
    addresses itself for IPv4, an IPv6 prefix of 32 to 128 bits holding it for IPv6; an
    attempt's is its src_ip's."""
    addresses = [event["src_ip"]] if event["type"] == "attempt" else [
        event[field] for field in ("src_ip", "dst_ip") if field in event]
    if "subscriber" in event:
        addresses.append(event["subscriber"].split("/")[0])
    if "/" not in key:
        return key in addresses and ipaddress.ip_address(key).version == 4
    network = ipaddress.ip_network(key)
    return network.version == 6 and 32 <= network.prefixlen <= 128 and any(
        ipaddress.ip_address(address) in network for address in addresses
        if ipaddress.ip_address(address).version == 6)


def expected_headers(event):
    return "type=%s,sensor=%s,v=%d" % (event["type"], event["sensor"], event["v"])


def in_order_within(values, lines):
    """values appear in lines in this order (not necessarily next to each other)."""
    remaining = iter(lines)
    return all(any(value == line for line in remaining) for value in values)


def check_topic(messages, lines, total_order=False):
    """The topic holds exactly the file's events: same values, each with its key and type
    header, each key's events in one partition and in the file's order."""
    if len(messages) != len(lines):
        fail("%d messages on the topic, %d events in the file" % (len(messages), len(lines)))
    by_key, partition_of = {}, {}
    for partition, offset, key, headers, value in messages:
        event = json.loads(value)
        want = expected_key(event)
        if not key or (want is not None and key != want) or (
                want is None and not key_names_subscriber(key, event)):
            fail("message %d/%d (%s) has key %r, expected %r" % (
                partition, offset, event["type"], key, want or "its subscriber"))
        if headers != expected_headers(event):
            fail("message %d/%d has headers %r, expected %s" % (partition, offset, headers,
                                                                expected_headers(event)))
        if partition_of.setdefault(key, partition) != partition:
            fail("key %s is in partitions %d and %d" % (key, partition_of[key], partition))
        by_key.setdefault(key, []).append(value)
    if sorted(m[4] for m in messages) != sorted(lines):
        missing = sorted(set(lines) - set(m[4] for m in messages))
        fail("the topic's values differ from the file's lines%s" %
             ("; missing: " + missing[0].decode() if missing else " (duplicates)"))
    for key, values in by_key.items():
        if not in_order_within(values, lines):
            fail("key %s: the topic's order differs from the file's" % key)
    if total_order and [m[4] for m in messages] != lines:
        fail("the topic's order differs from the file's")


def without_sink_stats(lines):
    out = []
    for line in lines:
        event = json.loads(line)
        if event["type"] == "sensor_stats":
            for key in SINK_STATS:
                event.pop(key, None)
        out.append(json.dumps(event))
    return out


def final_stats(lines):
    event = json.loads(lines[-1])
    if event["type"] != "sensor_stats" or not event["final"]:
        fail("the last event is not the final sensor_stats")
    return event


def pcap_records(path):
    """The global header and each record of a classic pcap file, as bytes."""
    with open(path, "rb") as source:
        data = source.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        fail("%s is not a classic pcap file" % path)
    header, records, at = data[:24], [], 24
    while at < len(data):
        (captured,) = struct.unpack(order + "I", data[at + 8:at + 12])
        records.append(data[at:at + 16 + captured])
        at += 16 + captured
    return header, records


def streamed_events(policy, header, records, count, full_lines):
    """How many events the sensor has written after reading the first count packets: the
    lines a run on that prefix shares with the full run (the rest of that run is what the
    end of input decides)."""
    prefix, _ = run([ARGS.binary, "-q", "-c", policy_path(policy), "-r", "-"],
                    stdin_bytes=header + b"".join(records[:count]))
    lines = prefix.stdout.split(b"\n")[:-1]
    shared = 0
    while shared < min(len(lines), len(full_lines)) and lines[shared] == full_lines[shared]:
        shared += 1
    return shared


def wait_for_messages(address, topic, at_least, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(consume(address, topic)) >= at_least:
            return
        time.sleep(0.2)
    fail("fewer than %d messages on %s after %d s" % (at_least, topic, seconds))


class Feeder:
    """A sensor reading a capture on standard input, written packet by packet."""

    def __init__(self, command, header):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        cwd=sensor_directory())
        self.process.stdin.write(header)
        self.process.stdin.flush()

    def send(self, records):
        for record in records:
            self.process.stdin.write(record)
            self.process.stdin.flush()
            time.sleep(0.002)

    def finish(self, expect_status=0):
        try:
            _, stderr = self.process.communicate(timeout=60)  # closes standard input
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail("the sensor did not finish within 60 s")
        if self.process.returncode != expect_status:
            fail("the sensor exited %d, expected %d:\n%s" %
                 (self.process.returncode, expect_status, stderr.decode(errors="replace")))
        return stderr.decode(errors="replace")


def spool_segments(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".seg"))


def case_replay(work):
    with MockBroker() as broker:
        for name, policy, captures in scenarios():
            topic = "replay." + name
            broker.order("create %s 3" % topic)
            output = os.path.join(work, name + ".ndjson")
            run(sensor_command(policy, captures, "-k", broker.address, "-t", topic,
                               "-o", output))
            lines = file_lines(output)
            if not lines:
                fail("%s: no events" % name)
            check_topic(consume(broker.address, topic), lines)
            # Kafka beside the file changes nothing in the events but the sink counters.
            plain, _ = run(sensor_command(policy, captures))
            if without_sink_stats(plain.stdout.split(b"\n")[:-1]) != without_sink_stats(lines):
                fail("%s: the events differ from a run without Kafka" % name)
            # With -k and no -o, nothing goes to standard output.
            quiet, _ = run(sensor_command(policy, captures, "-k", broker.address, "-t",
                                          topic + ".again"))
            if quiet.stdout:
                fail("%s: -k without -o wrote to standard output" % name)
            print("ok: %s: %d events on %s" % (name, len(lines), topic))


def syn_record(seconds, source, destination, port):
    """A pcap record: an Ethernet frame holding a TCP SYN from source:port to
    destination:25 over IPv6."""
    tcp = struct.pack(">HHIIBBHHH", port, 25, 1000 + port, 0, 5 << 4, 0x02, 64240, 0, 0)
    ip6 = struct.pack(">IHBB", 6 << 28, len(tcp), 6, 64) + \
        socket.inet_pton(socket.AF_INET6, source) + \
        socket.inet_pton(socket.AF_INET6, destination)
    frame = bytes.fromhex("020000000002" "020000000001" "86dd") + ip6 + tcp
    return struct.pack("<IIII", seconds, 0, len(frame), len(frame)) + frame


def case_subscriber(work):
    """Sixty SYNs to sixty servers from sixteen /64s of one delegated /56 (the example
    policy's ftth-east pool: ipv6_subscriber_length 56), and one from a /64 of another
    pool: a fan-out past five times thresholds.fanout and past thresholds.attempts, so the
    subscriber is a bot_suspect. Eight partitions: keyed by its addresses, its events would
    spread over most of them."""
    subscriber = ipaddress.ip_network("2001:db8:100:4200::/56")
    capture = os.path.join(work, "subscriber.pcap")
    with open(capture, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(60):
            source = "2001:db8:100:42%02x::%x" % ((i % 16) * 16 + 3, i + 1)
            out.write(syn_record(1768467600 + i, source, "2001:db8:9000::%x" % (i + 1),
                                 40000 + i))
        out.write(syn_record(1768467700, "2001:db8:200:7:1::5", "2001:db8:9000::1", 41000))
    policy = os.path.join(ARGS.source_dir, "rules", "example.yaml")
    output = os.path.join(work, "subscriber.ndjson")
    with MockBroker(partitions=8) as broker:
        run([ARGS.binary, "-q", "-c", policy, "-r", capture, "-k", broker.address, "-o",
             output])
        messages = consume(broker.address, "op25b.events")
    lines = file_lines(output)
    check_topic(messages, lines)
    about = []
    for partition, _, key, _, value in messages:
        event = json.loads(value)
        addresses = [event[field] for field in ("src_ip", "dst_ip") if field in event]
        if event.get("subscriber") == str(subscriber) or any(
                ipaddress.ip_address(a) in subscriber for a in addresses):
            about.append((event["type"], key, partition))
    types = sorted({kind for kind, _, _ in about})
    if types != ["attempt", "bot_suspect"] or sum(1 for t in about if t[0] == "attempt") != 60:
        fail("events about %s: %r" % (subscriber, about))
    if {(key, partition) for _, key, partition in about} != {(str(subscriber), about[0][2])}:
        fail("the /56's events have keys and partitions %r" %
             sorted({(key, partition) for _, key, partition in about}))
    other = [key for _, _, key, _, value in messages if b"2001:db8:200:7:1::5" in value]
    if other != ["2001:db8:200:7::/64"]:
        fail("the other pool's subscriber (a /64) is keyed %r" % other)
    print("ok: 60 attempts and a bot_suspect of one /56, keyed %s, all in partition %d of 8" %
          (subscriber, about[0][2]))


def mid_stream_case(work, name, down_at_start):
    """Feeds a capture packet by packet; the broker is down while the middle two thirds
    (and, when down_at_start, the first sixth) go through the sensor.

    The broker goes down between requests, not in the middle of one: the mock cluster
    checks idempotent sequence numbers only for transactional producers, so a produce
    request cut after it was stored would show up twice whatever the producer does."""
    _, policy, captures = scenario("edge-verdicts")
    header, records = pcap_records(capture_path(captures[0]))
    full, _ = run(sensor_command(policy, captures))
    full_lines = full.stdout.split(b"\n")[:-1]
    first, second = len(records) // 6, 5 * len(records) // 6
    down_from = 0 if down_at_start else first
    before = streamed_events(policy, header, records, down_from, full_lines)
    during = streamed_events(policy, header, records, second, full_lines) - before
    if during <= 0:
        fail("no event is written while the broker is down: pick other split points")
    output = os.path.join(work, name + ".ndjson")
    with MockBroker(down=down_at_start) as broker:
        feeder = Feeder(sensor_command(policy, ["-"], "-k", broker.address, "-o", output,
                                       "--kafka-timeout", "20s"), header)
        feeder.send(records[:first])
        if not down_at_start:
            wait_for_messages(broker.address, "op25b.events", before)
            broker.order("down")
        feeder.send(records[first:second])
        time.sleep(1.5)
        broker.order("up")
        feeder.send(records[second:])
        started = time.monotonic()
        feeder.finish()
        lines = file_lines(output)
        check_topic(consume(broker.address, "op25b.events"), lines)
    if without_sink_stats(lines) != without_sink_stats(full_lines):
        fail("the events differ from a run without Kafka")
    print("ok: %s: %d events, %d of them written while the broker was down; closed in %.1f s"
          % (name, len(lines), during, time.monotonic() - started))


def case_broker_late(work):
    mid_stream_case(work, "broker-late", down_at_start=True)


def case_outage(work):
    mid_stream_case(work, "outage", down_at_start=False)


def case_spool(work):
    _, policy, captures = scenario("edge-verdicts")
    header, records = pcap_records(capture_path(captures[0]))
    spool = os.path.join(work, "spool")
    output = os.path.join(work, "spool.ndjson")
    with MockBroker(partitions=1, down=True) as broker:
        # 2 KiB holds two or three events: the rest of the outage goes to disk.
        feeder = Feeder(sensor_command(policy, ["-"], "-k", broker.address, "-o", output,
                                       "-X", "queue.buffering.max.kbytes=2",
                                       "--spool", spool, "--kafka-timeout", "20s"), header)
        half = len(records) // 2
        feeder.send(records[:half])
        time.sleep(1)
        if not spool_segments(spool):
            fail("nothing was spooled while the broker was down")
        broker.order("up")
        # The rest arrives while the spool drains: new events queue behind it.
        feeder.send(records[half:])
        feeder.finish()
        lines = file_lines(output)
        check_topic(consume(broker.address, "op25b.events"), lines, total_order=True)
    stats = final_stats(lines)
    if stats["events_spooled"] == 0:
        fail("the final sensor_stats counts no spooled event")
    if stats["events_dropped"] != 0 or stats["kafka_errors"] != 0:
        fail("events were lost: %s" % lines[-1].decode())
    if spool_segments(spool):
        fail("segments are left in the spool: %s" % spool_segments(spool))
    print("ok: spool: %d events in order, %d of them through the spool" %
          (len(lines), stats["events_spooled"]))



def case_spool_user(work):
    """--spool NEWDIR -u nobody, as root: the directory is made for nobody before root is
    dropped, so every event the broker could not take is kept there, and the next run (as
    root) delivers them all."""
    if os.geteuid() != 0:
        print("SKIP: needs root to drop to nobody")
        sys.exit(77)
    import pwd
    nobody = pwd.getpwnam("nobody")
    spool = os.path.join(work, "spool-new")
    first_output = os.path.join(work, "first.ndjson")
    _, policy, captures = scenario("edge-verdicts")
    os.chmod(work, 0o755)  # nobody must reach the spool and -o beside it
    with MockBroker(partitions=1, down=True) as broker:
        result, _ = run(sensor_command(policy, captures, "-k", broker.address, "-o",
                                       first_output, "-X", "queue.buffering.max.kbytes=4",
                                       "--spool", spool, "--kafka-timeout", "1s",
                                       "-u", "nobody"), expect_status=1)
        first = file_lines(first_output)
        stderr = result.stderr.decode(errors="replace")
        if "Permission denied" in stderr:
            fail("the spool was not writable by nobody:\n%s" % stderr)
        if "%d kept in spool" % len(first) not in stderr:
            fail("not every event was kept (%d written):\n%s" % (len(first), stderr))
        info = os.stat(spool)
        if info.st_uid != nobody.pw_uid:
            fail("the new spool directory belongs to uid %d, not nobody" % info.st_uid)
        segments = spool_segments(spool)
        if not segments:
            fail("nothing was kept in the spool")
        broker.order("up")
        run(sensor_command(policy, captures, "-k", broker.address, "-o",
                           os.path.join(work, "second.ndjson"), "--spool", spool,
                           "--kafka-timeout", "20s"))
        values = [m[4] for m in consume(broker.address, "op25b.events")]
    if values[:len(first)] != first:
        fail("the first run's %d events were not delivered first, in order" % len(first))
    print("ok: spool-user: a new spool made for nobody kept all %d events; the next run "
          "delivered them" % len(first))

def case_restart(work):
    spool = os.path.join(work, "spool")
    first_output = os.path.join(work, "first.ndjson")
    second_output = os.path.join(work, "second.ndjson")
    _, policy, captures = scenario("edge-verdicts")
    _, other_policy, other_captures = scenario("core-verdicts")
    with MockBroker(partitions=1, down=True) as broker:
        result, _ = run(sensor_command(policy, captures, "-k", broker.address, "-o",
                                       first_output, "-X", "queue.buffering.max.kbytes=4",
                                       "--spool", spool, "--kafka-timeout", "1s"),
                        expect_status=1)
        first = file_lines(first_output)
        stderr = result.stderr.decode(errors="replace")
        if "%d events could not be delivered" % len(first) not in stderr:
            fail("the first run does not say that %d events could not be delivered:\n%s" %
                 (len(first), stderr))
        if "%d kept in spool" % len(first) not in stderr:
            fail("the first run does not say that %d events were kept:\n%s" %
                 (len(first), stderr))
        if not spool_segments(spool):
            fail("the first run left no segment in the spool")
        broker.order("up")
        run(sensor_command(other_policy, other_captures, "-k", broker.address, "-o",
                           second_output, "--spool", spool, "--kafka-timeout", "20s"))
        second = file_lines(second_output)
        messages = consume(broker.address, "op25b.events")
    values = [m[4] for m in messages]
    if values != first + second:
        fail("expected the %d events of the first run, then the %d of the second; got %d "
             "messages%s" % (len(first), len(second), len(values),
                             "" if len(values) != len(first) + len(second)
                             else " in another order"))
    if spool_segments(spool):
        fail("segments are left in the spool: %s" % spool_segments(spool))
    print("ok: restart: %d events of the first run, then %d of the second" %
          (len(first), len(second)))


def case_unreachable(work):
    _, policy, captures = scenario("edge-verdicts")
    output = os.path.join(work, "unreachable.ndjson")
    # A bound socket that does not listen: connections to it are refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % closed.getsockname()[1]
        result, seconds = run(sensor_command(policy, captures, "-k", address, "-o", output,
                                             "--kafka-timeout", "1500ms"), expect_status=1)
    lines = file_lines(output)
    stderr = result.stderr.decode(errors="replace")
    message = "%d events could not be delivered" % len(lines)
    if message not in stderr:
        fail("stderr does not say %r:\n%s" % (message, stderr))
    if not 1.4 < seconds < 10:
        fail("the sensor took %.1f s with a 1.5 s timeout" % seconds)
    # Without a spool, what does not fit in a 2 KiB producer queue is dropped: counted,
    # logged, and part of the count at the end.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % closed.getsockname()[1]
        # A file of its own: -o appends, and these lines must be this run's alone.
        output = os.path.join(work, "unreachable-small-queue.ndjson")
        small, _ = run(sensor_command(policy, captures, "-k", address, "-o", output,
                                      "-X", "queue.buffering.max.kbytes=2",
                                      "--kafka-timeout", "200ms"), expect_status=1)
    lines = file_lines(output)
    stats = final_stats(lines)
    stderr = small.stderr.decode(errors="replace")
    if not 0 < stats["events_dropped"] < len(lines):
        fail("events_dropped is %d of %d events" % (stats["events_dropped"], len(lines)))
    if stats["sink_errors"] != stats["events_dropped"] or stats["kafka_errors"] != 0:
        fail("the counters disagree: %s" % lines[-1].decode())
    if "1 event dropped so far" not in stderr or "10 events dropped so far" not in stderr:
        fail("drops are not logged:\n" + stderr)
    if "%d events could not be delivered" % len(lines) not in stderr:
        fail("the count at the end is not every event:\n" + stderr)
    print("ok: unreachable: exit 1 after %.1f s, %s; with a 2 KiB queue, %d dropped and "
          "counted" % (seconds, message, stats["events_dropped"]))


def case_defaults(work):
    name, policy, captures = scenario("summary-bots")
    with MockBroker() as broker:
        for extra, said in (([], "linger.ms 50, batch.size 1000000, batch.num.messages 10000, "
                                 "compression.type lz4"),
                            (["-X", "linger.ms=5", "-X", "compression.type=zstd"],
                             "linger.ms 5, batch.size 1000000, batch.num.messages 10000, "
                             "compression.type zstd")):
            topic = "defaults.%d" % len(extra)
            broker.order("create %s 3" % topic)
            output = os.path.join(work, topic + ".ndjson")
            command = sensor_command(policy, captures, "-k", broker.address, "-t", topic,
                                     "-o", output, *extra)
            result, _ = run([command[0], "-v"] + command[2:])
            log = result.stderr.decode(errors="replace")
            if "kafka: producer batches with %s" % said not in log:
                fail("-v does not say the producer batches with %s:\n%s" % (said, log))
            check_topic(consume(broker.address, topic), file_lines(output))
    print("ok: defaults: lz4 and linger.ms 50 by default, -X overrides them, %s read back"
          % name)


def case_options(work):
    _, policy, captures = scenario("edge-verdicts")
    spool = os.path.join(work, "spool")
    checks = [
        (["-t", "topic"], "needs the Kafka sink"),
        (["--spool", spool], "needs the Kafka sink"),
        (["-k", "127.0.0.1:9", "-X", "novalue"], "KEY=VALUE"),
        (["-k", "127.0.0.1:9", "-X", "no.such.property=1"], "no.such.property"),
        (["-k", "127.0.0.1:9", "-X", "acks=1"], "acks"),
        (["-k", "127.0.0.1:9", "--kafka-timeout", "soon"], "--kafka-timeout"),
        (["-k", "127.0.0.1:9", "--kafka-queue-mb", "0"], "--kafka-queue-mb"),
    ]
    for extra, words in checks:
        result, _ = run(sensor_command(policy, captures, *extra), expect_status=2)
        if words not in result.stderr.decode(errors="replace"):
            fail("%s: stderr does not mention %r:\n%s" % (" ".join(extra), words,
                                                         result.stderr.decode()))
    if os.path.exists(spool):
        fail("a rejected command line created the spool")
    # A spool in use by another sensor is refused (exit 1).
    with MockBroker() as broker:
        header, _ = pcap_records(capture_path(captures[0]))
        holder = Feeder(sensor_command(policy, ["-"], "-k", broker.address, "--spool", spool),
                        header)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(spool, "lock")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        result, _ = run(sensor_command(policy, captures, "-k", broker.address, "--spool",
                                       spool), expect_status=1)
        holder.finish()
        if "in use" not in result.stderr.decode(errors="replace"):
            fail("a second sensor on one spool was not refused:\n" +
                 result.stderr.decode(errors="replace"))
    print("ok: options: %d bad command lines refused, a shared spool refused" % len(checks))


# src/output/spool_file.h: the segment layout.
SEGMENT_MAGIC = b"OP25BSPL"
SEGMENT_HEADER = 24
RECORD_HEADER = 16


def fnv1a(data, value=2166136261):
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xffffffff
    return value


def read_segment(path):
    """The whole records of a segment from its stored start, and where the last one ends;
    (None, reason) when the header is not a segment's."""
    with open(path, "rb") as source:
        data = source.read()
    if len(data) < SEGMENT_HEADER or data[:8] != SEGMENT_MAGIC:
        return None, "no segment header (%d bytes)" % len(data)
    (start,) = struct.unpack("<Q", data[16:24])
    records, at = [], start
    while at + RECORD_HEADER <= len(data):
        key, kind, value, checksum = struct.unpack("<IIII", data[at:at + RECORD_HEADER])
        payload = data[at + RECORD_HEADER:at + RECORD_HEADER + key + kind + value]
        if len(payload) != key + kind + value or \
                fnv1a(payload, fnv1a(data[at:at + 12])) != checksum:
            break
        records.append(payload[key + kind:])
        at += RECORD_HEADER + len(payload)
    return records, at if at == len(data) else "damaged at byte %d of %d" % (at, len(data))


def check_whole_segments(directory):
    """Every segment in the spool is whole: a header, whole records, nothing after them.
    Returns the values of their records, oldest segment first."""
    values = []
    for name in spool_segments(directory):
        records, end = read_segment(os.path.join(directory, name))
        if records is None or not isinstance(end, int):
            fail("segment %s is not whole: %s" % (name, end))
        values += records
    return values


def own_mount_namespace():
    """Moves this process (and so every process it starts) into a mount namespace of its
    own, so that the tmpfs mounted next is seen by the sensor and vanishes with the test."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        return os.strerror(ctypes.get_errno())
    result = subprocess.run(["mount", "--make-rprivate", "/"], stderr=subprocess.PIPE)
    return result.stderr.decode(errors="replace").strip() if result.returncode else None


def mount_tmpfs(directory, size):
    os.makedirs(directory, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                             directory], stderr=subprocess.PIPE)
    return result.stderr.decode(errors="replace").strip() if result.returncode else None


def number(pattern, text, what):
    match = re.search(pattern, text)
    if not match:
        fail("stderr does not say %s:\n%s" % (what, text))
    return int(match.group(1))


def spool_outage_run(policy, captures, broker, spool, output, timeout="1s"):
    """A run with the broker down and a 2 KiB producer queue: everything goes to the spool
    or is lost. Returns the events written, stderr, and the counts stderr gives."""
    result, _ = run(sensor_command(policy, captures, "-k", broker.address, "-o", output,
                                   "-X", "queue.buffering.max.kbytes=2", "--spool", spool,
                                   "--kafka-timeout", timeout), expect_status=1)
    lines = file_lines(output)
    stderr = result.stderr.decode(errors="replace")
    kept = number(r"(\d+) kept in spool", stderr, "how many events were kept")
    lost = 0
    if "lost for good" in stderr:
        lost = number(r"(\d+) events lost for good in this run", stderr, "how many were lost")
    undelivered = number(r"(\d+) events could not be delivered", stderr, "the undelivered count")
    if kept + lost != len(lines) or undelivered != len(lines):
        fail("%d events, none delivered: %d kept + %d lost, %d said undelivered\n%s" %
             (len(lines), kept, lost, undelivered, stderr))
    if final_stats(lines)["events_dropped"] > lost:
        fail("events_dropped says %d, the end of the run %d lost" %
             (final_stats(lines)["events_dropped"], lost))
    return lines, stderr, kept, lost


def case_full_disk(work):
    why = own_mount_namespace() or mount_tmpfs(os.path.join(work, "disk"), "64k")
    if why:
        print("SKIP: cannot mount a tmpfs here (%s): the full-disk case needs root" % why)
        sys.exit(77)
    disk = os.path.join(work, "disk")
    spool = os.path.join(disk, "spool")
    # Most of the 64 KiB is taken: the spool has room for about half of the first run.
    filler = os.path.join(disk, "filler")
    with open(filler, "wb") as out:
        out.write(b"\0" * 40 * 1024)
    first_output = os.path.join(work, "first.ndjson")
    second_output = os.path.join(work, "second.ndjson")
    _, policy, captures = scenario("subscribers-bots")
    _, other_policy, other_captures = scenario("core-verdicts")
    try:
        with MockBroker(partitions=1, down=True) as broker:
            first, stderr, kept, lost = spool_outage_run(policy, captures, broker, spool,
                                                         first_output)
            if lost == 0 or kept == 0:
                fail("the disk should have held some events and not all: %d kept, %d lost\n%s"
                     % (kept, lost, stderr))
            if "No space left on device" not in stderr:
                fail("the full disk is not named:\n" + stderr)
            on_disk = check_whole_segments(spool)
            if len(on_disk) != kept or not in_order_within(on_disk, first):
                fail("the spool holds %d whole records, the run said %d kept" %
                     (len(on_disk), kept))
            os.unlink(filler)  # space freed
            broker.order("up")
            run(sensor_command(other_policy, other_captures, "-k", broker.address, "-o",
                               second_output, "--spool", spool, "--kafka-timeout", "20s"))
            second = file_lines(second_output)
            values = [m[4] for m in consume(broker.address, "op25b.events")]
        if len(values) + lost != len(first) + len(second):
            fail("%d delivered + %d reported lost != %d produced" %
                 (len(values), lost, len(first) + len(second)))
        if values != on_disk + second:
            fail("the topic does not hold the kept events of the first run, then the second's")
        if spool_segments(spool) or any(n.endswith(".damaged") for n in os.listdir(spool)):
            fail("the spool is not empty and clean: %s" % os.listdir(spool))
    finally:
        subprocess.run(["umount", disk])
    print("ok: full-disk: first run %d events, %d kept on a full 64 KiB disk and %d lost "
          "(said so); second run %d; %d delivered + %d lost = %d produced" %
          (len(first), kept, lost, len(second), len(values), lost, len(first) + len(second)))


def damage_segments(spool):
    """Zero padding after the first segment's records (what a failed stdio flush left),
    a torn last record in the second, and an empty segment file."""
    names = spool_segments(spool)
    if len(names) < 2:
        fail("expected at least two segments, got %s" % names)
    with open(os.path.join(spool, names[0]), "ab") as out:
        out.write(b"\0" * 300)
    second = os.path.join(spool, names[1])
    records, end = read_segment(second)
    os.truncate(second, end - 5)
    last_id = int(names[-1][:16], 16)
    empty = "%016x.seg" % (last_id + 1)
    open(os.path.join(spool, empty), "wb").close()
    return names[:2] + [empty], records[-1]


def case_damaged(work):
    spool = os.path.join(work, "spool")
    first_output = os.path.join(work, "first.ndjson")
    second_output = os.path.join(work, "second.ndjson")
    _, policy, captures = scenario("edge-verdicts")
    _, other_policy, other_captures = scenario("core-verdicts")
    with MockBroker(partitions=1, down=True) as broker:
        first, _, kept, _ = spool_outage_run(policy, captures, broker, spool, first_output)
        # The purged events went in front, in a segment of their own: two at least.
        if len(spool_segments(spool)) < 2:
            fail("the first run left %s" % spool_segments(spool))
        damaged, torn = damage_segments(spool)
        sent = check_whole_segments_allowing_damage(spool)
        broker.order("up")
        # Damaged segments make the run fail even though every whole event was delivered.
        result, _ = run(sensor_command(other_policy, other_captures, "-k", broker.address,
                                       "-o", second_output, "--spool", spool,
                                       "--kafka-timeout", "20s"), expect_status=1)
        second = file_lines(second_output)
        values = [m[4] for m in consume(broker.address, "op25b.events")]
    stderr = result.stderr.decode(errors="replace")
    for name in damaged:
        if "%s set aside as %s.damaged" % (name, name) not in stderr:
            fail("-q hides that %s was set aside, or it was not:\n%s" % (name, stderr))
        if not os.path.exists(os.path.join(spool, name + ".damaged")):
            fail("%s was not renamed aside" % name)
    if spool_segments(spool):
        fail("segments are left: %s" % spool_segments(spool))
    if values != sent + second:
        fail("expected the %d whole records of the damaged spool, then the second run's %d; "
             "got %d messages" % (len(sent), len(second), len(values)))
    if torn in values[:len(sent)]:
        fail("the torn record was delivered")
    if "damaged spool segment(s) set aside" not in stderr:
        fail("the run does not say damaged segments were set aside:\n%s" % stderr)
    print("ok: damaged: %d segments set aside and named under -q; %d of the %d kept events "
          "were whole and delivered, then the second run's %d" %
          (len(damaged), len(sent), kept, len(second)))


def check_whole_segments_allowing_damage(directory):
    values = []
    for name in spool_segments(directory):
        records, _ = read_segment(os.path.join(directory, name))
        values += records or []
    return values


CASES = {
    "replay": case_replay,
    "subscriber": case_subscriber,
    "spool-user": case_spool_user,
    "broker-late": case_broker_late,
    "outage": case_outage,
    "spool": case_spool,
    "restart": case_restart,
    "unreachable": case_unreachable,
    "options": case_options,
    "defaults": case_defaults,
    "full-disk": case_full_disk,
    "damaged": case_damaged,
}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mock-broker", required=True)
    parser.add_argument("--kcat", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    ARGS = parser.parse_args()
    # The sensor runs in pcaps/: paths given relative to here must still work.
    for name in ("binary", "mock_broker", "kcat", "source_dir"):
        path = getattr(ARGS, name)
        if os.sep in path:
            setattr(ARGS, name, os.path.abspath(path))
    work = tempfile.mkdtemp(prefix="op25b-kafka-")
    try:
        CASES[ARGS.case](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
