#!/usr/bin/env python3
"""The signals an operator sends a running sensor, and the start-up lines of -v:

  reopen       SIGHUP after the -o file was moved away (logrotate): the lines up to the
               signal stay in the moved file, the rest go to a new file at the path, every
               line once, in order, none split; a report lands at its path, not in the file
               moved away; when the path cannot be opened again the old file stays in use
  reload       SIGHUP re-reads the policy: with the -o file moved away and the policy's
               sensor renamed, the moved and the new file hold every event of an undisturbed
               run, those after the signal (and the metrics' sensor label) under the new
               name; a broken policy, or one that adds or renames a pool, is said as
               FILE:LINE: message and the run goes on with the old one, undisturbed; a
               restart-only key (limits.flows) is said and kept while the rest is taken
  stats        SIGUSR1: one sensor_stats event more, "final": false, written at once
  broken-pipe  standard output closed by its reader (SIGPIPE ignored, EPIPE): exit status 1
               with a message naming the output, no death by signal, the report written
  verbose      -v: one start-up line for each input, with its format and link type

The sensor reads the example capture from a pipe, in two parts with a pause between, and
is signalled in the pause; --workers, which pass these signals on, are tested live
(tests/live/live_test.py).

usage: signals_test.py --binary BIN --source-dir DIR --work-dir DIR [--only PART]
"""
import argparse
import array
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections import Counter

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def read_pcap(path):
    with open(path, "rb") as source:
        data = source.read()
    header, records, offset = data[:24], [], 24
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        records.append(data[offset:offset + 16 + length])
        offset += 16 + length
    return header, records


def read_file(path):
    """What the file holds; b"" (and a failure) when there is none."""
    if not check(os.path.isfile(path), "%s is missing" % path):
        return b""
    with open(path, "rb") as source:
        return source.read()


def reference_events():
    """The events of an undisturbed run of the example capture."""
    result = subprocess.run([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    check(result.returncode == 0, "the example run exits %d" % result.returncode)
    return result.stdout


class SlowReplay:
    """The sensor reading the example capture from a pipe (-r -) fed in two parts: it has
    read and judged the first when pause() returns, and waits for more."""

    def __init__(self, args, stdout=subprocess.PIPE, policy=None):
        self.header, self.records = read_pcap(EXAMPLE_PCAP)
        self.half = len(self.records) // 2
        # The read end stays open here too, to see when the sensor has taken everything.
        self.read_end, self.write_end = os.pipe()
        self.process = subprocess.Popen([BINARY, "-c", policy or EXAMPLE_POLICY, "-r", "-"] +
                                        args,
                                        stdin=self.read_end, stdout=stdout,
                                        stderr=subprocess.PIPE)

    def write(self, data):
        while data:
            data = data[os.write(self.write_end, data):]

    def unread(self):
        count = array.array("i", [0])
        fcntl.ioctl(self.read_end, termios.FIONREAD, count)
        return count[0]

    def pause(self):
        """Writes the first half and waits until the sensor has read and judged it."""
        self.write(self.header + b"".join(self.records[:self.half]))
        deadline = time.time() + 30
        while self.unread() > 0 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # judged from its buffer; then it waits in read(2)

    def finish(self):
        """Writes the second half, ends the input; returns (status, stdout, stderr)."""
        self.write(b"".join(self.records[self.half:]))
        os.close(self.write_end)
        os.close(self.read_end)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err.decode(errors="replace")


def test_reopen(reference):
    work = os.path.join(WORK, "reopen")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    events = os.path.join(work, "events.ndjson")
    rotated = events + ".1"
    report = os.path.join(work, "report.json")
    with open(report, "w") as earlier:
        earlier.write("an earlier run's report\n")
    replay = SlowReplay(["-v", "-o", events, "--report", report])
    replay.pause()
    os.rename(events, rotated)  # what logrotate does before its postrotate
    os.rename(report, report + ".1")
    replay.process.send_signal(signal.SIGHUP)
    status, _, err = replay.finish()
    check(status == 0, "SIGHUP: exit %d: %s" % (status, err))
    check(("op25b-watch: info: re-opened %s\n" % events) in err,
          "-v does not say the output was re-opened: %r" % err)
    before, after = read_file(rotated), read_file(events)
    check(before.endswith(b"\n") and after.endswith(b"\n") or not before or not after,
          "a line split between the files: ...%r / ...%r" % (before[-40:], after[-40:]))
    check(len(before) > 0, "nothing judged before the SIGHUP reached the moved file")
    check(len(after) > 0, "nothing written to the new file after the SIGHUP")
    check(before + after == reference,
          "the moved and the new file together (%d + %d lines) are not the undisturbed "
          "run's %d lines" % (before.count(b"\n"), after.count(b"\n"), reference.count(b"\n")))
    # The report is written when the input ends, at its path as it is then.
    check(read_file(report + ".1") == b"an earlier run's report\n",
          "the moved report was written to")
    written = read_file(report)
    check(written.startswith(b"{") and json.loads(written)["end_reason"] == "end_of_input",
          "the report at the path is not this run's")

    # The path cannot be opened again (a directory took its place): said, and the events
    # go on to the moved file, all of them.
    os.remove(events)  # -o appends: this run's events alone
    replay = SlowReplay(["-q", "-o", events])
    replay.pause()
    os.rename(events, rotated)
    os.mkdir(events)
    replay.process.send_signal(signal.SIGHUP)
    status, _, err = replay.finish()
    check(status == 0, "SIGHUP, path unusable: exit %d: %s" % (status, err))
    check(("op25b-watch: error: re-opening %s: Is a directory" % events) in err,
          "a failed re-open is not said: %r" % err)
    check(read_file(rotated) == reference, "after a failed re-open the old file lacks events")

    # Standard output has nothing to re-open: the run goes on undisturbed.
    replay = SlowReplay(["-q"])
    replay.pause()
    replay.process.send_signal(signal.SIGHUP)
    status, out, err = replay.finish()
    check(status == 0 and out == reference and err == "",
          "SIGHUP with -o -: exit %d, %s, events %s" %
          (status, err, "as undisturbed" if out == reference else "differ"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as answer:
        return answer.read().decode()


def sensor_names(data):
    return Counter(json.loads(line)["sensor"] for line in data.decode().splitlines())


def reload_run(work, policy_text, args=()):
    """A slow replay whose policy file is replaced by policy_text, with SIGHUP, after the
    first half; returns (status, events before, events after, stderr, metrics after)."""
    policy = os.path.join(work, "policy.yaml")
    events = os.path.join(work, "events.ndjson")
    for path in (events, events + ".1"):
        if os.path.exists(path):
            os.remove(path)
    shutil.copyfile(EXAMPLE_POLICY, policy)
    port = free_port()
    replay = SlowReplay(["-v", "-o", events, "--metrics", "127.0.0.1:%d" % port] + list(args),
                        policy=policy)
    replay.pause()
    os.rename(events, events + ".1")
    with open(policy + ".new", "w") as out:
        out.write(policy_text)
    os.rename(policy + ".new", policy)  # as an editor or a configuration tool saves it
    replay.process.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # served at the next packet: the sensor waits for one in read(2)
    replay.write(replay.records[replay.half])
    time.sleep(0.5)
    metrics = scrape(port)
    replay.half += 1  # that packet is written
    status, _, err = replay.finish()
    return status, read_file(events + ".1"), read_file(events), err, metrics


def test_reload(reference):
    work = os.path.join(WORK, "reload")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(EXAMPLE_POLICY) as source:
        example = source.read()
    old_name = re.search(r"^  name: (\S+)$", example, re.M).group(1)
    new_name = old_name + "-renamed"
    renamed = re.sub(r"^  name: \S+$", "  name: " + new_name, example, count=1, flags=re.M)
    check(renamed != example, "the example policy's sensor name was not found")

    # Renamed: every event of the undisturbed run, those after the signal under the new name.
    status, before, after, err, metrics = reload_run(work, renamed)
    check(status == 0, "reload: exit %d: %s" % (status, err))
    check("op25b-watch: info: reloaded %s (sensor %s)" % (os.path.join(work, "policy.yaml"),
                                                            new_name) in err,
          "-v does not say the policy was reloaded: %r" % err)
    check(set(sensor_names(before)) <= {old_name} and len(before) > 0,
          "before the reload: %r" % sensor_names(before))
    check(set(sensor_names(after)) == {new_name}, "after the reload: %r" % sensor_names(after))
    together = before + after.replace(b'"sensor":"%s"' % new_name.encode(),
                                      b'"sensor":"%s"' % old_name.encode())
    check(together == reference,
          "the moved and the new file (%d + %d lines), names aside, are not the undisturbed "
          "run's %d lines" % (before.count(b"\n"), after.count(b"\n"), reference.count(b"\n")))
    check('sensor="%s"' % new_name in metrics and 'sensor="%s"' % old_name not in metrics,
          "the metrics' sensor label after the reload: %r" %
          sorted(set(re.findall(r'sensor="[^"]*"', metrics))))

    # Refused: a broken file, and one that renames a pool. Said with its line; the run goes
    # on with the old policy, undisturbed.
    broken = example.replace("  name: " + old_name, "  name: " + old_name + "\n  colour: red", 1)
    broken_line = broken.splitlines().index("  colour: red") + 1
    # A pool more, after the last one (the one before the msas: section).
    added = re.sub(r"\n\n((#[^\n]*\n)*msas:\n)",
                   "\n  - {name: extra, type: static, prefixes: [192.0.2.0/28]}\n\n\\1", example,
                   count=1)
    added_line = added.splitlines().index("  - {name: extra, type: static, "
                                          "prefixes: [192.0.2.0/28]}") + 1
    path = os.path.join(work, "policy.yaml")
    for text, said in ((broken, "%s:%d: " % (path, broken_line)),
                       (added, "%s:%d: pool 'extra' is not in the running policy: adding, "
                        "removing, renaming or reordering pools takes a restart" %
                        (path, added_line))):
        status, before, after, err, metrics = reload_run(work, text)
        check(status == 0, "refused reload: exit %d: %s" % (status, err))
        check(said in err and "not reloaded, the running policy stays" in err,
              "a refused policy is not said as %r: %r" % (said, err))
        check(before + after == reference, "a refused reload changed the events")
        check('sensor="%s"' % old_name in metrics, "a refused reload changed the metrics")

    # limits.flows waits for a restart: said, kept, and the rest (the name) taken.
    flows = re.sub(r"^  flows: \d+", "  flows: 1000", renamed, count=1, flags=re.M)
    check(flows != renamed, "the example policy's limits.flows was not found")
    status, before, after, err, _ = reload_run(work, flows)
    check(status == 0 and "limits.flows 1000 waits for a restart; the running sensor keeps" in err,
          "a restart-only key is not said: exit %d, %r" % (status, err))
    check(set(sensor_names(after)) == {new_name}, "with a restart-only key the rest is not taken")


def test_stats(reference):
    replay = SlowReplay(["-q"])
    replay.pause()
    replay.process.send_signal(signal.SIGUSR1)
    status, out, err = replay.finish()
    check(status == 0 and err == "", "SIGUSR1: exit %d: %s" % (status, err))
    lines = out.decode().splitlines()
    expected = reference.decode().splitlines()
    stats = [json.loads(l) for l in lines if '"type":"sensor_stats"' in l]
    expected_stats = [json.loads(l) for l in expected if '"type":"sensor_stats"' in l]
    check(len(stats) == len(expected_stats) + 1,
          "SIGUSR1 gave %d sensor_stats events, the undisturbed run %d" %
          (len(stats), len(expected_stats)))
    others = [l for l in lines if '"type":"sensor_stats"' not in l]
    check(others == [l for l in expected if '"type":"sensor_stats"' not in l],
          "SIGUSR1 changed events other than sensor_stats")
    # The extra one: not final, counting the first half (and the packet that woke the
    # sensor to serve the signal), not the whole capture.
    key = lambda s: (s["ts"], s["packets"], s["final"])
    extra = list((Counter(map(key, stats)) - Counter(map(key, expected_stats))).elements())
    check(len(extra) == 1 and not extra[0][2] and
          replay.half <= extra[0][1] <= replay.half + 1,
          "sensor_stats (time, packets, final) not in the undisturbed run: %r; %d packets "
          "were sent before SIGUSR1" % (extra, replay.half))


def run_to_closed_pipe(args):
    """The sensor writing its events to a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    result = subprocess.run([BINARY, "-c", EXAMPLE_POLICY] + args, stdout=write_end,
                            stderr=subprocess.PIPE, timeout=60)
    os.close(write_end)
    return result.returncode, result.stderr.decode(errors="replace")


def long_capture(path, copies):
    """The example capture over and over, an hour apart: events enough to fill a pipe."""
    header, records = read_pcap(EXAMPLE_PCAP)
    with open(path, "wb") as out:
        out.write(header)
        for copy in range(copies):
            for record in records:
                seconds = struct.unpack_from("<I", record, 0)[0] + copy * 3600
                out.write(struct.pack("<I", seconds) + record[4:])


def test_broken_pipe():
    work = os.path.join(WORK, "broken-pipe")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    header, records = read_pcap(EXAMPLE_PCAP)
    report = os.path.join(work, "report.json")
    status, err = run_to_closed_pipe(["-r", EXAMPLE_PCAP, "-o", "-", "--report", report])
    check(status == 1, "a closed standard output: exit %d (negative: killed by a signal)"
          % status)
    check("op25b-watch: error: writing events to standard output: Broken pipe\n" in err,
          "no message naming the closed output: %r" % err)
    check(err.count("Broken pipe") == 1,
          "the broken pipe is said %d times: %r" % (err.count("Broken pipe"), err))
    if check(os.path.exists(report), "a closed standard output: no report written"):
        with open(report) as written:
            totals = json.load(written)
        # It stops once the output is known gone (the first flush), as on SIGTERM.
        check(totals["end_reason"] == "shutdown", "end_reason %r" % totals["end_reason"])
        check(0 < totals["totals"]["packets"] < len(records),
              "the report counts %d packets of %d" % (totals["totals"]["packets"], len(records)))

    # As a shell pipeline meets it: the reader takes 100 bytes of more than a pipe holds.
    capture = os.path.join(work, "long.pcap")
    long_capture(capture, 30)
    command = ('"$0" -q -c "$1" -r "$2" -o - --report "$3" | head -c 100 >/dev/null; '
               'exit "${PIPESTATUS[0]}"')
    if os.path.exists(report):
        os.unlink(report)
    result = subprocess.run(["bash", "-c", command, BINARY, EXAMPLE_POLICY, capture,
                             report], stderr=subprocess.PIPE, timeout=60)
    err = result.stderr.decode(errors="replace")
    check(result.returncode == 1, "| head -c 100: exit %d: %s" % (result.returncode, err))
    check("writing events to standard output: Broken pipe" in err,
          "| head -c 100: no message naming the output: %r" % err)
    if check(os.path.exists(report), "| head -c 100: no report written"):
        with open(report) as written:
            check(json.load(written)["end_reason"] == "shutdown",
                  "| head -c 100: the report was not written at the stop")


def test_verbose():
    scenario = os.path.join(SOURCE, "pcaps", "scenario-linux-sll2.pcap")
    pcapng = os.path.join(SOURCE, "tests", "corpus", "pcaps", "submission", "ndpi__smtps.pcapng")
    result = subprocess.run([BINARY, "-v", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-r",
                             scenario, "-r", pcapng, "-o", os.devnull],
                            stderr=subprocess.PIPE, timeout=60)
    err = result.stderr.decode()
    check(result.returncode == 0, "-v: exit %d: %s" % (result.returncode, err))
    expected = ["op25b-watch: info: reading %s (pcap, link type EN10MB, prefilter off)" %
                EXAMPLE_PCAP,
                "op25b-watch: info: reading %s (pcap, link type LINUX_SLL2, prefilter off)" %
                scenario,
                "op25b-watch: info: reading %s (pcapng, link type EN10MB, prefilter off)" %
                pcapng]
    said = [l for l in err.splitlines() if l.startswith("op25b-watch: info: reading ")]
    check(said == expected, "-v start-up lines %r, expected %r" % (said, expected))
    with open(EXAMPLE_PCAP, "rb") as source:
        result = subprocess.run([BINARY, "-v", "--prefilter", "-c", EXAMPLE_POLICY, "-r", "-",
                                 "-o", os.devnull], input=source.read(),
                                stderr=subprocess.PIPE, timeout=60)
    said = [l for l in result.stderr.decode().splitlines() if "reading" in l]
    check(said == ["op25b-watch: info: reading standard input (pcap, link type EN10MB, "
                   "prefilter on)"], "-v on standard input with --prefilter: %r" % said)
    result = subprocess.run([BINARY, "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-o",
                             os.devnull], stderr=subprocess.PIPE, timeout=60)
    check(b"info:" not in result.stderr, "start-up lines without -v: %r" % result.stderr)


TESTS = {
    "reopen": lambda: test_reopen(reference_events()),
    "reload": lambda: test_reload(reference_events()),
    "stats": lambda: test_stats(reference_events()),
    "broken-pipe": lambda: test_broken_pipe(),
    "verbose": lambda: test_verbose(),
}


def main():
    global BINARY, WORK, SOURCE, EXAMPLE_POLICY, EXAMPLE_PCAP
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", choices=sorted(TESTS))
    args = parser.parse_args()
    BINARY = os.path.abspath(args.binary)
    SOURCE = args.source_dir
    WORK = os.path.join(args.work_dir, args.only or "all")
    os.makedirs(WORK, exist_ok=True)
    EXAMPLE_POLICY = os.path.join(SOURCE, "rules", "example.yaml")
    EXAMPLE_PCAP = os.path.join(SOURCE, "pcaps", "example.pcap")
    for name in ([args.only] if args.only else sorted(TESTS)):
        TESTS[name]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
